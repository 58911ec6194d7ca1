import { join } from 'node:path';

import ts from 'typescript';

const root = new URL('../../', import.meta.url).pathname;

/**
 * The type errors of `app`, a file inside the repository (so `nestjs-redis-metrics` resolves to this
 * package by its own name, through `exports`, as an installed one does), against the built package:
 * strict, `module` and `moduleResolution` NodeNext, with `options` on top. Only errors in the app and
 * in the package's own declarations count: those of its dependencies are theirs to answer for. Each
 * is `<path from the repository>: TS<code> <message>`. Needs `npm run build` (the pretest step).
 */
export function packageTypeErrors(app: string, options: ts.CompilerOptions = {}): string[] {
  const program = ts.createProgram([app], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    types: ['node'],
    ...options,
  });
  const dist = join(root, 'dist');
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => !d.file || d.file.fileName.startsWith(dist) || d.file.fileName === app)
    .map((d) => {
      const where = d.file ? `${d.file.fileName.slice(root.length)}: ` : '';
      return `${where}TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}
