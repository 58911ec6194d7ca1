import type { Cluster, Redis } from 'ioredis';

import { MAX_HEARTBEAT_AHEAD_MS } from './heartbeat-bound.js';

/** A connected ioredis client: a single server, a Sentinel-backed one or a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Shared Lua: the clock, key types, and the arithmetic of packed values (see packed-values.ts).
 * A key of the wrong type under the prefix is one of ours that something else overwrote: it is deleted,
 * named in the reply, and the writer's markers then tell it to write everything again. Exported for
 * the tests that run its functions on their own (not part of the package's API).
 */
export const PRELUDE = `
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local now = string.format('%.3f', nowMs)
-- A heartbeat further ahead than this cannot be one (see heartbeat-bound.ts): stale, and reaped.
local ahead = string.format('%.3f', nowMs + ${MAX_HEARTBEAT_AHEAD_MS})
local KEY_TYPES = { 'zset', 'hash', 'hash', 'hash', 'hash', 'hash', 'zset', 'hash', 'hash' }
local wrongType = {}
local function repairTypes()
  for i = 1, #KEYS do
    local kind = redis.call('TYPE', KEYS[i]).ok
    if kind ~= 'none' and kind ~= KEY_TYPES[i] then
      redis.call('DEL', KEYS[i])
      wrongType[#wrongType + 1] = KEYS[i]
    end
  end
end
-- The grammar of decodeNumber (packed-values.ts), so that both stores read the same texts as numbers:
-- tonumber reads the decimal forms alike, and only those once hexadecimal and words are left out.
local function num(token)
  if token == '+Inf' or token == 'Infinity' or token == 'inf' then return math.huge end
  if token == '-Inf' or token == '-Infinity' or token == '-inf' then return -math.huge end
  if token == 'NaN' or token == 'nan' then return 0 / 0 end
  if string.find(token, '[^%d.eE+-]') then return nil end
  return tonumber(token)
end
local function fmt(n)
  if n ~= n then return 'NaN' end
  if n == math.huge then return '+Inf' end
  if n == -math.huge then return '-Inf' end
  -- An integer a double holds exactly prints the same digits with %d, at about half the cost.
  if n % 1 == 0 and n ~= 0 and n > -9007199254740992 and n < 9007199254740992 then
    return string.format('%d', n)
  end
  return string.format('%.17g', n)
end
-- "slot number slot number ..." -> ordered slot names, slot -> number; nil when malformed.
local function parsePackedStrictly(text)
  if not text then return nil end
  -- Single spaces between tokens, as decodePacked reads them.
  if string.find(text, '%c') or string.find(text, '  ', 1, true) then return nil end
  if string.sub(text, 1, 1) == ' ' or string.sub(text, -1) == ' ' then return nil end
  local names, values, slot = {}, {}, nil
  for token in string.gmatch(text, '%S+') do
    if slot == nil then
      slot = token
    else
      local n = num(token)
      -- A slot given twice is malformed too, as decodePacked reads it.
      if n == nil or values[slot] ~= nil then return nil end
      names[#names + 1] = slot
      values[slot] = n
      slot = nil
    end
  end
  if slot ~= nil or #names == 0 then return nil end
  return names, values
end
-- parsePackedStrictly, at about two thirds of its cost (a histogram's three texts are most of the
-- Redis time of its write). Each call from Lua costs about as much as a short number's own work, so a
-- slot and its number are taken in one match, and a number is read by tonumber alone: it reads exactly
-- the decimal grammar when the token holds no x (hexadecimal), space or control character (the match's
-- class) and the number is finite. Any other text goes to parsePackedStrictly, whose answer it gives.
local function parsePacked(text)
  if not text then return nil end
  local names, values, expected = {}, {}, 1
  for at, slot, token, after in string.gmatch(text, '()([^%c%sxX]+) ([^%c%sxX]+) ?()') do
    -- Each pair where the one before ended (its one space included): nothing was skipped.
    if at ~= expected then return parsePackedStrictly(text) end
    local n = tonumber(token)
    if n == nil or n ~= n or n == math.huge or n == -math.huge then n = num(token) end
    -- A slot given twice is malformed too, as decodePacked reads it.
    if n == nil or values[slot] ~= nil then return nil end
    names[#names + 1] = slot
    values[slot] = n
    expected = after
  end
  -- The whole text read, something in it, and not ending with the space a next pair would follow.
  if expected ~= #text + 1 or expected == 1 or string.byte(text, -1) == 32 then
    return parsePackedStrictly(text)
  end
  return names, values
end
local function pack(names, values)
  local parts = {}
  for i = 1, #names do
    parts[#parts + 1] = names[i]
    parts[#parts + 1] = fmt(values[names[i]])
  end
  return table.concat(parts, ' ')
end
-- A histogram bucket's slot: its bound ('v' is a counter's value, 'c' and 's' a count and a sum).
local function isBound(slot)
  return slot ~= 'v' and slot ~= 'c' and slot ~= 's'
end
-- The number of a counter's packed value, 'v <number>' and nothing else; nil for any other text
-- (and for a missing one: HMGET gives false).
local function counterValue(text)
  if not text or string.byte(text, 1) ~= 118 or string.byte(text, 2) ~= 32 then return nil end
  if string.find(text, ' ', 3, true) then return nil end
  return num(string.sub(text, 3))
end
-- addDifference for the common case, a counter whose values are all 'v <number>': the same arithmetic
-- without splitting three texts into tables (most of a write's Redis time). Returns whether it was
-- that case, and the new total text (nil: the total stays as it is).
local function addCounterDifference(totalText, newText, oldText)
  local new = counterValue(newText)
  if new == nil then return false end
  local old = counterValue(oldText)
  if oldText and old == nil then return false end
  local total = counterValue(totalText)
  if totalText and total == nil then return false end
  if old ~= nil and new < old then old = nil end
  local delta = new - (old or 0)
  if delta ~= delta or delta == math.huge or delta == -math.huge then return true, nil end
  -- A new total starts at the difference (a zero one as 0, never -0).
  if total == nil then return true, 'v ' .. fmt(delta == 0 and 0 or delta) end
  if delta ~= 0 then return true, 'v ' .. fmt(total + delta) end
  return true, nil
end
-- The total text after adding what a process's new absolute values add to what it wrote before (nil:
-- the total stays as it is); a count that went down is a reset and counts from zero (see packedDelta
-- in packed-values.ts). totalText and oldText are false when there is none.
local function addDifference(totalText, newText, oldText)
  local simple, counterTotal = addCounterDifference(totalText, newText, oldText)
  if simple then return counterTotal end
  local names, new = parsePacked(newText)
  if not names then return nil end
  local _, old = parsePacked(oldText)
  if old then
    -- Any count that went down, not only 'c': a histogram reset and observed as often again keeps
    -- its count but not its buckets. A sum may go down (negative observations).
    for slot, value in pairs(new) do
      if slot ~= 's' and old[slot] ~= nil and value < old[slot] then
        old = nil
        break
      end
    end
  end
  local totalNames, total = parsePacked(totalText)
  local existed = totalNames ~= nil
  if not existed then totalNames, total = {}, {} end
  local changed = false
  -- Histogram buckets of another layout (a deploy that changed the buckets): a total keeps only the
  -- bounds every writer has, where the sum is exact (see packed-values.ts, addPacked).
  if existed then
    local kept = {}
    for i = 1, #totalNames do
      local slot = totalNames[i]
      if isBound(slot) and new[slot] == nil then
        total[slot] = nil
        changed = true
      else
        kept[#kept + 1] = slot
      end
    end
    totalNames = kept
  end
  for i = 1, #names do
    local slot = names[i]
    local delta = new[slot] - ((old and old[slot]) or 0)
    if existed and total[slot] == nil and isBound(slot) then
      -- A bound the total does not have (or dropped): other writers' counts at it are not known.
    elseif delta ~= delta or delta == math.huge or delta == -math.huge then
      -- A NaN or infinite count (prom-client lets inc(NaN) through) would poison the shared total
      -- for good: it is left out.
    elseif delta ~= 0 then
      changed = true
      if total[slot] == nil then
        totalNames[#totalNames + 1] = slot
        total[slot] = 0
      end
      total[slot] = total[slot] + delta
    elseif total[slot] == nil then
      totalNames[#totalNames + 1] = slot
      total[slot] = 0
      changed = true
    end
  end
  if changed then return pack(totalNames, total) end
  return nil
end
-- Reads and writes go as one call per hash for a whole list, not one per series: each call from Lua has
-- a cost of its own besides its work. In chunks, far under Lua's limit on unpacked values (8000); an
-- even size, so that an HSET's field and its value never land in different calls.
local CHUNK = 1000
local function callMany(command, key, args)
  for first = 1, #args, CHUNK do
    redis.call(command, key, unpack(args, first, math.min(first + CHUNK - 1, #args)))
  end
end
local function getMany(key, fields)
  local values = {}
  for first = 1, #fields, CHUNK do
    local part = redis.call('HMGET', key, unpack(fields, first, math.min(first + CHUNK - 1, #fields)))
    for i = 1, #part do values[first + i - 1] = part[i] end
  end
  return values
end
-- The fields of a list of field, value pairs.
local function fieldsOf(items)
  local fields = {}
  for i = 1, #items, 2 do fields[#fields + 1] = items[i] end
  return fields
end
-- Field -> value as the hash holds them (false: absent).
local function currentValues(key, fields)
  local found, values = getMany(key, fields), {}
  for i = 1, #fields do values[fields[i]] = found[i] end
  return values
end
-- Writes each field of a list with its value in values (a field listed twice is written twice, with
-- the same value).
local function setFields(key, fields, values)
  local args = {}
  for i = 1, #fields do
    args[#args + 1] = fields[i]
    args[#args + 1] = values[fields[i]]
  end
  callMany('HSET', key, args)
end
-- A list sent as one argument, its items separated by newlines: one string for ioredis to encode
-- instead of two per series. No item holds a newline: fields and metadata are JSON, which escapes it.
local function lines(text)
  local items = {}
  if text == '' then return items end
  local start = 1
  while true do
    local stop = string.find(text, '\\n', start, true)
    if not stop then
      items[#items + 1] = string.sub(text, start)
      return items
    end
    items[#items + 1] = string.sub(text, start, stop - 1)
    start = stop + 1
  end
end
local function setMarkers(id, seq)
  redis.call('HSET', KEYS[6], '#seq', seq)
  redis.call('HSET', KEYS[5], '#seq', seq)
  redis.call('HSET', KEYS[4], '#p:' .. id, seq)
  -- The totals' stamp (MARKER.born): a key made again gets another one.
  redis.call('HSETNX', KEYS[4], '#born', now .. ' ' .. id)
  redis.call('HSET', KEYS[3], '#p:' .. id, seq)
end
local function register(id, info)
  redis.call('ZADD', KEYS[1], now, id)
  redis.call('HSETNX', KEYS[2], id, info)
end
`;

/**
 * Applies one write of a process atomically, if every key still holds what the process last wrote.
 * Each key the process relies on carries the sequence number of its last applied write (markers: `#seq`
 * in its own hashes, `#p:<id>` in the shared ones). When one of them differs from `expected seq`, Redis
 * lost or rolled back something (or the last reply was lost): nothing is written and the markers are
 * returned, so the process can tell which and repair exactly.
 *
 * Counter-like series arrive as absolute values; the script adds to the totals the difference from what
 * the process wrote before (a value written again adds nothing). In `base` mode it only records them
 * as the process's previous values, adding nothing (used by a repair).
 * KEYS (every script of one process): 1 processes, 2 process-info, 3 metadata, 4 totals,
 *   5 gauges of the process, 6 counters of the process, 7 ended, 8 ended-seq, 9 exemplars
 * ARGV: 1 id, 2 process info JSON, 3 expected seq ('0' = first write), 4 seq of this write,
 *       5 stale age ms ('' = do not look), 6 'count' | 'base', 7 liveness window ms ('' = do not
 *       count), then six lists, each one argument of lines (see LINES): 8 metadata (name, JSON),
 *       9 the process's gauges hash (field, "value" | "value timestamp" | a summary window, which
 *       always holds spaces | a gauge's declared mode, stamped as a value is), 10 its fields to delete, 11 counters (field, packed), 12 counter fields
 *       to delete, 13 exemplars (field, "timestamp value labels"): each kept only if its timestamp is
 *       later than the stored one's, so the exemplars hold the latest any process recorded
 * Returns: { 'applied' | 'mismatch', now, stale ids, wrong-type keys, markers, live processes }
 *   markers: { counters #seq, gauges #seq, totals #p, metadata #p, ended seq } ('' = absent);
 *   live processes: heartbeats within the liveness window after this write (-1 = not counted);
 *   stale ids include those whose heartbeat is too far ahead to be one (see heartbeat-bound.ts)
 */
const WRITE = `${PRELUDE}
repairTypes()
local id, marker = ARGV[1], '#p:' .. ARGV[1]
local stale = {}
if ARGV[5] ~= '' then
  stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.3f', nowMs - tonumber(ARGV[5])), 'LIMIT', 0, 16)
  local impossible = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ahead, '+inf', 'LIMIT', 0, 16)
  for i = 1, #impossible do stale[#stale + 1] = impossible[i] end
end
local markers = {
  redis.call('HGET', KEYS[6], '#seq') or '',
  redis.call('HGET', KEYS[5], '#seq') or '',
  redis.call('HGET', KEYS[4], marker) or '',
  redis.call('HGET', KEYS[3], marker) or '',
  redis.call('HGET', KEYS[8], id) or '',
}
local function live()
  if ARGV[7] == '' then return -1 end
  return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.3f', nowMs - tonumber(ARGV[7])), ahead)
end
local expected = ARGV[3] == '0' and '' or ARGV[3]
for i = 1, 4 do
  if markers[i] ~= expected then return { 'mismatch', now, stale, wrongType, markers, live() } end
end
-- An ended process writes again only after a repair's rebase, which removes its tombstone: a first
-- write that arrives late, after the process was ended, would count again what the next one counts.
if markers[5] ~= '' then return { 'mismatch', now, stale, wrongType, markers, live() } end

register(id, ARGV[2])
callMany('HSET', KEYS[3], lines(ARGV[8]))
local gauges = lines(ARGV[9])
for i = 2, #gauges, 2 do
  if not string.find(gauges[i], ' ', 1, true) then gauges[i] = gauges[i] .. ' ' .. now end
end
callMany('HSET', KEYS[5], gauges)
callMany('HDEL', KEYS[5], lines(ARGV[10]))

-- Counters, in the order sent, as if written one after another (a field listed twice adds only what
-- its second value adds to its first).
local counting = ARGV[6] == 'count'
local counters = lines(ARGV[11])
-- The process's values as stored, then as each series of the list leaves them (false: none).
local latest = currentValues(KEYS[6], fieldsOf(counters))
-- The changes in order: field, new value, value before.
local changedFields, newValues, oldValues = {}, {}, {}
for i = 1, #counters, 2 do
  local field, value = counters[i], counters[i + 1]
  local old = latest[field]
  if old ~= value then
    local n = #changedFields + 1
    changedFields[n], newValues[n], oldValues[n] = field, value, old
    latest[field] = value
  end
end
if counting then
  local totals, totalsChanged = currentValues(KEYS[4], changedFields), {}
  for n = 1, #changedFields do
    local field = changedFields[n]
    local total = addDifference(totals[field], newValues[n], oldValues[n])
    if total then
      totalsChanged[#totalsChanged + 1] = field
      totals[field] = total
    end
  end
  setFields(KEYS[4], totalsChanged, totals)
end
setFields(KEYS[6], changedFields, latest)
callMany('HDEL', KEYS[6], lines(ARGV[12]))

-- Exemplars: each kept only if it is later than the one stored. Its time is read with num(), as the
-- embedded store and the reader read it, and only a finite one counts: an infinite time would keep its
-- exemplar for good, and the reader would never show it.
local function exemplarTime(text)
  local at = num(string.match(text, '^%S+') or '')
  if at == nil or at ~= at or at == math.huge or at == -math.huge then return nil end
  return at
end
local exemplars = lines(ARGV[13])
local stored, kept = currentValues(KEYS[9], fieldsOf(exemplars)), {}
for i = 1, #exemplars, 2 do
  local field, value = exemplars[i], exemplars[i + 1]
  local at = exemplarTime(value)
  local old = stored[field]
  local oldAt = old and exemplarTime(old)
  if at and (not oldAt or at > oldAt) then
    kept[#kept + 1] = field
    stored[field] = value
  end
end
setFields(KEYS[9], kept, stored)
setMarkers(id, ARGV[4])
return { 'applied', now, stale, wrongType, markers, live() }
`;

/**
 * Starts a repair of one process: its gauges and summary windows go (the process writes them all
 * again; the shared exemplars stay, each is only ever replaced by a later one), its previous
 * counter values stay (when they match what the totals hold) or go (the process loads the right ones
 * in `base` mode), its tombstone goes, and every marker is set to the repair's sequence number. With
 * `mark lost`, it records in the totals when Redis was found to have lost data, so scrapes wait until
 * every live process has written again.
 * KEYS (every script of one process): 1 processes, 2 process-info, 3 metadata, 4 totals,
 *   5 gauges of the process, 6 counters of the process, 7 ended, 8 ended-seq, 9 exemplars
 * ARGV: 1 id, 2 process info JSON, 3 seq, 4 '1' keep previous counter values, 5 '1' mark lost
 * Returns: { 'applied', now, {}, wrong-type keys, {}, -1 }
 */
const REBASE = `${PRELUDE}
repairTypes()
local id = ARGV[1]
redis.call('DEL', KEYS[5])
if ARGV[4] ~= '1' then redis.call('DEL', KEYS[6]) end
redis.call('ZREM', KEYS[7], id)
redis.call('HDEL', KEYS[8], id)
if ARGV[5] == '1' then redis.call('HSET', KEYS[4], '#lost-at', now) end
register(id, ARGV[2])
setMarkers(id, ARGV[3])
return { 'applied', now, {}, wrongType, {}, -1 }
`;

/**
 * Ends a process: its gauges and summary windows, previous counter values, markers and index entries
 * go; its counts stay
 * in the totals, where they already are, so nothing moves. A tombstone (kept a day) records the last
 * write of it the totals hold ('0': none), so a process that was only paused can tell what of it is
 * counted, and a write of it that arrives after the end is refused, its first one included.
 * Atomic: several processes may end the same dead one at once.
 * KEYS (every script of one process): 1 processes, 2 process-info, 3 metadata, 4 totals,
 *   5 gauges of the process, 6 counters of the process, 7 ended, 8 ended-seq, 9 exemplars
 * ARGV: 1 id, 2 stale age in ms ('' = end it whatever its heartbeat; else only if it is older)
 * Returns: 1 when the process was indexed, 0 when it was not, -1 when it was alive after all (a
 *   heartbeat too far ahead of the clock to be one is not: see heartbeat-bound.ts)
 */
const END = `${PRELUDE}
repairTypes()
local id, marker = ARGV[1], '#p:' .. ARGV[1]
local heartbeat = redis.call('ZSCORE', KEYS[1], id)
if ARGV[2] ~= '' and heartbeat and tonumber(heartbeat) >= nowMs - tonumber(ARGV[2])
  and tonumber(heartbeat) <= tonumber(ahead) then
  return -1
end
local seq = redis.call('HGET', KEYS[4], marker)
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('DEL', KEYS[5], KEYS[6])
redis.call('HDEL', KEYS[4], marker)
redis.call('HDEL', KEYS[3], marker)
if seq then
  redis.call('ZADD', KEYS[7], now, id)
  redis.call('HSET', KEYS[8], id, seq)
elseif redis.call('HSETNX', KEYS[8], id, '0') == 1 then
  -- Ended before any write of it arrived (or ended again: its tombstone stays as it is).
  redis.call('ZADD', KEYS[7], now, id)
end
local old = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', '(' .. string.format('%.3f', nowMs - 86400000), 'LIMIT', 0, 64)
for j = 1, #old do
  redis.call('ZREM', KEYS[7], old[j])
  redis.call('HDEL', KEYS[8], old[j])
end
return heartbeat and 1 or 0
`;

/**
 * Stores raw values of one process for `RedisStorageDict`: registers the process (heartbeat, info) and
 * sets fields of its gauges hash, stamped with Redis server time unless a timestamp is given.
 *
 * KEYS: processes, process-info, gauges of the process
 * ARGV: id, process info JSON, then pairs (field, "value" | "value timestamp")
 */
const DICT_SET = `
local time = redis.call('TIME')
local now = string.format('%.3f', tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
for i = 3, #ARGV, 2 do
  local value = ARGV[i + 1]
  if not string.find(value, ' ', 1, true) then value = value .. ' ' .. now end
  redis.call('HSET', KEYS[3], ARGV[i], value)
end
return #ARGV / 2 - 1
`;

/**
 * Reads what a scrape needs besides the totals and the gauges (which are read in bounded HSCAN calls):
 * Redis server time, the process index, process info and metadata. Small: its size grows with
 * processes and metric families, not with series. A key of the wrong type is read as empty and named;
 * any other error (an ACL refusal) fails the script.
 *
 * KEYS: processes, process-info, metadata, totals (only its stamp is read here)
 * ARGV: '1' to ask the server's run id, '0' not to (INFO was refused before)
 * Returns: { now, wrong-type keys, [id, heartbeat, ...], info pairs, metadata pairs, server run id,
 *   the totals' stamp ('' = none) }
 */
/**
 * The run id of the server process running the script: another one after a restart, and on every other
 * node (a replica promoted). An HSCAN cursor holds only on the process that returned it. Empty when
 * INFO is refused (an ACL user without it): the reader cannot tell, as before.
 */
const SERVER_ID = `
local function serverId()
  local info = redis.pcall('INFO', 'server')
  if type(info) ~= 'string' then return '' end
  return string.match(info, 'run_id:(%x+)') or ''
end
`;

/**
 * `failed(reply)` of a `redis.pcall`: whether it is WRONGTYPE, a key of another type, which a read
 * takes as empty. Any other error (an ACL refusal) fails the read as redis.call would, and is
 * explained as one.
 */
const WRONG_TYPE_ONLY = `
local function failed(reply)
  if type(reply) ~= 'table' or not reply.err then return false end
  if string.sub(reply.err, 1, 9) ~= 'WRONGTYPE' then error(reply) end
  return true
end
`;

const READ_HEAD = `${SERVER_ID}${WRONG_TYPE_ONLY}
local time = redis.call('TIME')
local now = string.format('%.3f', tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000)
local wrongType = {}
local function read(command, key, ...)
  local reply = redis.pcall(command, key, ...)
  if failed(reply) then
    wrongType[#wrongType + 1] = key
    return {}
  end
  return reply
end
local processes = read('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
-- The totals' stamp; a key of another type is named by the scan of the totals.
local born = redis.pcall('HGET', KEYS[4], '#born')
if failed(born) or not born then born = '' end
-- A refused INFO is an ACL denial, logged (ACL LOG) and counted by the server: asked once only.
local id = ARGV[1] == '1' and serverId() or ''
return { now, wrongType, processes, read('HGETALL', KEYS[2]), read('HGETALL', KEYS[3]), id, born }
`;

/**
 * Ends a read made in several HSCAN calls: which of its hashes are gone, whether each process is still
 * indexed, the totals' stamp and the server's run id. One script rather than a pipeline of single-key
 * commands: all its keys are read on the one node that holds every one of them. During a migration of
 * the prefix's slot, Redis refuses a script whose keys are split between the two nodes (ASK, TRYAGAIN);
 * a pipeline was redirected whole to the importing node, which answered for keys it did not hold yet
 * (a gauges hash read as gone, its process left out of a scrape that answered 200).
 *
 * KEYS: totals, processes, then the gauges hash of each process in ARGV[3..]
 * ARGV: '1' to ask the server's run id, '0' not to; '1' to check the totals, '0' not to; process ids
 * Returns: { 1 when the totals are checked and gone, else 0; 1 or 0 per gauges hash (present);
 *   each process's heartbeat ('' = not indexed); the totals' stamp ('' = none); server run id }
 */
const READ_END = `${SERVER_ID}${WRONG_TYPE_ONLY}
local function present(key)
  local reply = redis.pcall('TYPE', key)
  if type(reply) == 'table' and reply.err then error(reply) end
  return reply.ok ~= 'none'
end
local totalsGone = 0
local born = ''
if ARGV[2] == '1' then
  if not present(KEYS[1]) then totalsGone = 1 end
  local stamp = redis.pcall('HGET', KEYS[1], '#born')
  if not failed(stamp) and stamp then born = stamp end
end
local gauges = {}
local heartbeats = {}
for i = 3, #ARGV do
  gauges[#gauges + 1] = present(KEYS[i]) and 1 or 0
  heartbeats[#heartbeats + 1] = redis.call('ZSCORE', KEYS[2], ARGV[i]) or ''
end
local id = ARGV[1] == '1' and serverId() or ''
return { totalsGone, gauges, heartbeats, born, id }
`;

/** The server id alone, run on the node serving KEYS[1] (the same as the reads of its slot). */
const READ_SERVER_ID = `${SERVER_ID}
return serverId()
`;

/**
 * Every command the scripts above run. Redis checks each against the user's ACL rules as the script
 * runs it, and its refusal names no command (Redis 7.0): a hint lists them instead. Kept in step with the
 * scripts by a test.
 */
export const SCRIPT_COMMANDS = [
  'time',
  'type',
  'del',
  'hset',
  'hsetnx',
  'hmget',
  'hget',
  'hdel',
  'hgetall',
  'zadd',
  'zrem',
  'zrange',
  'zrangebyscore',
  'zcount',
  'zscore',
  'info',
] as const;

type ScriptArg = string | number | string[];

/** What the write and rebase scripts return. */
export type WriteScriptReply = [string, string, string[], string[], string[], number];

interface ScriptCommands {
  nrmWrite(...keysAndArgs: ScriptArg[]): Promise<WriteScriptReply>;
  nrmRebase(...keysAndArgs: ScriptArg[]): Promise<WriteScriptReply>;
  nrmEnd(...keysAndArgs: ScriptArg[]): Promise<number>;
  nrmDictSet(...keysAndArgs: ScriptArg[]): Promise<number>;
  nrmReadHead(
    ...keysAndArgs: ScriptArg[]
  ): Promise<[string, string[], string[], string[], string[], string, string]>;
  nrmServerId(key: string): Promise<string>;
  nrmReadEnd(
    numberOfKeys: number,
    ...keysAndArgs: string[]
  ): Promise<[number, number[], string[], string, string]>;
}

/** A client on which this module's scripts are defined (EVALSHA, falling back to EVAL once). */
export type ScriptedClient = RedisClient & ScriptCommands;

const defined = new WeakSet<RedisClient>();

/** Defines the module's Lua scripts on a client, once per client. */
export function withScripts(client: RedisClient): ScriptedClient {
  if (!defined.has(client)) {
    client.defineCommand('nrmWrite', { numberOfKeys: 9, lua: WRITE });
    client.defineCommand('nrmRebase', { numberOfKeys: 9, lua: REBASE });
    client.defineCommand('nrmEnd', { numberOfKeys: 9, lua: END });
    client.defineCommand('nrmDictSet', { numberOfKeys: 3, lua: DICT_SET });
    client.defineCommand('nrmReadHead', { numberOfKeys: 4, lua: READ_HEAD });
    client.defineCommand('nrmServerId', { numberOfKeys: 1, lua: READ_SERVER_ID });
    // Its number of keys varies: the caller gives it first.
    client.defineCommand('nrmReadEnd', { lua: READ_END });
    defined.add(client);
  }
  return client as ScriptedClient;
}
