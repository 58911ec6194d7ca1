import type { Cluster, Redis } from 'ioredis';

/** A connected ioredis client: a single server, a Sentinel-backed one or a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Writes series of one process atomically, stamped with Redis server time, and refreshes its heartbeat.
 * A series whose stored value already equals the new one is left alone, timestamp included, so replaying
 * a write changes nothing.
 *
 * A writer that says it is registered but is missing from the index either was reaped as dead (its
 * tombstone is there: reply -1, so it rebases its counters instead of counting them twice) or Redis
 * lost its data (no tombstone: reply -2, so it writes every series again). Nothing is written then.
 *
 * KEYS: processes, process-info, values of this process, metadata, reaped
 * ARGV: process id, process info JSON, timestamp ('' = server time), metadata pair count,
 *       series-to-delete count, '1' if the writer believes it is registered, stale age in ms
 *       ('' = do not look), then the metadata pairs (name, JSON), the fields to delete, and last
 *       the series pairs (field, value)
 * Returns: { series written (-1 reaped, -2 data lost), heartbeat ms, ids of processes older than the stale age }
 */
const WRITE_SERIES = `
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local now = string.format('%.3f', nowMs)
local stale = {}
if ARGV[7] ~= '' then
  stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.3f', nowMs - tonumber(ARGV[7])), 'LIMIT', 0, 16)
end
if ARGV[6] == '1' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return { redis.call('ZSCORE', KEYS[5], ARGV[1]) and -1 or -2, now, stale }
end
local stamp = ARGV[3] ~= '' and ARGV[3] or now
if redis.call('ZADD', KEYS[1], now, ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
local metaCount = tonumber(ARGV[4])
local deleteCount = tonumber(ARGV[5])
local i = 8
for _ = 1, metaCount do
  if redis.call('HGET', KEYS[4], ARGV[i]) ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  end
  i = i + 2
end
for _ = 1, deleteCount do
  redis.call('HDEL', KEYS[3], ARGV[i])
  i = i + 1
end
local written = 0
while i < #ARGV do
  local field, value = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[3], field)
  if not old or string.sub(old, 1, #value + 1) ~= value .. ' ' then
    redis.call('HSET', KEYS[3], field, value .. ' ' .. stamp)
    written = written + 1
  end
  i = i + 2
end
return { written, now, stale }
`;

/**
 * Folds one process into the archive and removes it: counter, histogram and summary count/sum values
 * are added to the archive, gauges and summary quantiles are dropped, its keys and index entries go.
 * Atomic, so several processes may reap the same dead one at once: the second finds nothing to fold.
 *
 * It leaves a tombstone (kept a day) so that a process reaped while it was only paused can tell.
 *
 * KEYS: processes, process-info, values of the process, metadata, archive, reaped
 * ARGV: process id, stale age in ms ('' = fold unconditionally; else only if its heartbeat is older)
 * Returns: number of series folded into the archive, -1 when the process was alive after all
 */
const FOLD_PROCESS = `
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
if ARGV[2] ~= '' then
  local heartbeat = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if heartbeat and tonumber(heartbeat) >= nowMs - tonumber(ARGV[2]) then
    return -1
  end
end
local entries = redis.call('HGETALL', KEYS[3])
local typeOf = {}
local folded = 0
for i = 1, #entries, 2 do
  local ok, parts = pcall(cjson.decode, entries[i])
  if ok and type(parts) == 'table' and type(parts[1]) == 'string' then
    local metric = parts[1]
    if typeOf[metric] == nil then
      local meta = redis.call('HGET', KEYS[4], metric)
      local metaOk, decoded = pcall(cjson.decode, meta or '')
      typeOf[metric] = (metaOk and type(decoded) == 'table' and decoded.type) or ''
    end
    local kind = typeOf[metric]
    local cumulative = kind == 'counter' or kind == 'histogram' or (kind == 'summary' and parts[2] ~= metric)
    local value = tonumber(string.match(entries[i + 1], '^(%S+) '))
    if cumulative and value and value == value and value ~= math.huge and value ~= -math.huge then
      redis.call('HINCRBYFLOAT', KEYS[5], entries[i], value)
      folded = folded + 1
    end
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[6], string.format('%.3f', nowMs), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', string.format('%.3f', nowMs - 86400000))
return folded
`;

/**
 * Reads everything a scrape needs in one call: Redis server time, the process index, process info,
 * metadata, the archive and every indexed process's series. A key of the wrong type is read as empty
 * and named in the reply, so one bad key does not cost the whole scrape.
 *
 * KEYS: processes, process-info, metadata, archive
 * ARGV: the key prefix of per-process value hashes ('{prefix}:values:')
 * Returns: { now ms, keys of the wrong type, [id, heartbeat, ...], info pairs, metadata pairs,
 *            archive pairs, values pairs of process 1, of process 2, ... (in index order) }
 */
const READ_PREFIX = `
local wrongType = {}
local function read(command, key, ...)
  local reply = redis.pcall(command, key, ...)
  if type(reply) == 'table' and reply.err then
    wrongType[#wrongType + 1] = key
    return {}
  end
  return reply
end
local time = redis.call('TIME')
local now = string.format('%.3f', tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000)
local processes = read('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local reply = { now, wrongType, processes, read('HGETALL', KEYS[2]), read('HGETALL', KEYS[3]), read('HGETALL', KEYS[4]) }
for i = 1, #processes, 2 do
  reply[#reply + 1] = read('HGETALL', ARGV[1] .. processes[i])
end
return reply
`;

type ScriptArg = string | number | string[];

interface ScriptCommands {
  nrmWriteSeries(...keysAndArgs: ScriptArg[]): Promise<[number, string, string[]]>;
  nrmFoldProcess(...keysAndArgs: ScriptArg[]): Promise<number>;
  nrmReadPrefix(...keysAndArgs: ScriptArg[]): Promise<[string, ...string[][]]>;
}

/** A client on which this module's scripts are defined (EVALSHA, falling back to EVAL once). */
export type ScriptedClient = RedisClient & ScriptCommands;

const defined = new WeakSet<RedisClient>();

/** Defines the module's Lua scripts on a client, once per client. */
export function withScripts(client: RedisClient): ScriptedClient {
  if (!defined.has(client)) {
    client.defineCommand('nrmWriteSeries', { numberOfKeys: 5, lua: WRITE_SERIES });
    client.defineCommand('nrmFoldProcess', { numberOfKeys: 6, lua: FOLD_PROCESS });
    client.defineCommand('nrmReadPrefix', { numberOfKeys: 4, lua: READ_PREFIX });
    defined.add(client);
  }
  return client as ScriptedClient;
}
