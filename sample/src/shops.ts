/**
 * The shops the sample knows. A label value comes from this list only, never from the request path:
 * one series per shop, however many different paths are posted (unknown shops get 404).
 */
export const SHOPS = ['north', 'south', 'east', 'west'] as const;

export type Shop = (typeof SHOPS)[number];

export function isShop(name: string): name is Shop {
  return (SHOPS as readonly string[]).includes(name);
}
