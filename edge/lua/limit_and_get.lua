-- One round trip per request: a sliding-window rate-limit check and, when allowed, the cache
-- lookup. The clock is Redis's own (TIME), so every edge process shares it.
--
-- KEYS[1]  rate-limit log (sorted set of allowed requests, scored by time in ms)
-- KEYS[2]  violation marker: set on the first refused request of a throttled period
-- ARGV[1]  limit            ARGV[2]  window in ms       ARGV[3]  unique request id
-- ARGV[4]  cache key prefix ('' = no cache lookup)
-- ARGV[5]  student id ('' = none)   ARGV[6]  class id ('' = look it up from the student)
--
-- Cache keys embed the student's and the class's generation numbers (gen:s:<id>, gen:c:<id>);
-- invalidating either is one INCR, and older entries simply stop being read.
-- Returns {allowed, count, reset_ms, retry_after_ms, first_violation, now_ms, cache_key, value}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  count = count + 1
  allowed = 1
end
redis.call('PEXPIRE', KEYS[1], window)

local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = (oldest[2] and tonumber(oldest[2]) or now) + window

if allowed == 0 then
  local retry = math.max(reset - now, 1)
  local first = redis.call('SET', KEYS[2], '1', 'NX', 'PX', retry) and 1 or 0
  return {0, count, reset, retry, first, now, '', false}
end

local key = ''
local value = false
if ARGV[4] ~= '' then
  -- Resolve the class exactly as store.lua does, so both build the same key.
  local student = ARGV[5]
  local class = ARGV[6]
  if class == '' and student ~= '' then
    class = redis.call('GET', 'cls:' .. student) or ''
  end
  local gs = student ~= '' and (redis.call('GET', 'gen:s:' .. student) or '0') or '-'
  local gc = class ~= '' and (redis.call('GET', 'gen:c:' .. class) or '0') or '-'
  key = ARGV[4] .. ':s' .. gs .. ':c' .. gc
  value = redis.call('GET', key)
end
return {1, count, reset, 0, 0, now, key, value}
