-- One round trip per request: a sliding-window rate-limit check on Redis's own clock (TIME, so
-- every edge process shares it) and, when allowed and asked for, the cache lookup.
--
-- KEYS[1]  rate-limit window: a sorted set of allowed requests, scored by time in ms
-- KEYS[2]  violation marker: set by the first refused request of a throttled period
-- KEYS[3]  cached response (absent: no lookup)
-- KEYS[4..] generation numbers the response depends on (a student's, a class's)
-- ARGV[1]  limit            ARGV[2]  window in ms       ARGV[3]  unique request id
--
-- A cached value starts with the stamp of the generations it was computed at, then a newline.
-- The stamp lists each generation key with its value; a value whose stamp is not the current
-- one is never returned, so bumping a generation (invalidate.lua) invalidates every response
-- built on it.
-- Returns {allowed, count, reset_ms, retry_after_ms, first_violation, now_ms, stamp, value}.

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

local stamp = ''
local value = false
if #KEYS >= 3 then
  for i = 4, #KEYS do
    local generation = redis.call('GET', KEYS[i])
    if not generation then
      -- Never bumped, or evicted (allkeys-lru): start a new epoch from the clock, so that no
      -- entry stamped before an eviction can match again.
      generation = t[1] .. string.format('%06d', tonumber(t[2]))
      redis.call('SET', KEYS[i], generation)
    end
    stamp = stamp .. KEYS[i] .. '=' .. generation .. ';'
  end
  local stored = redis.call('GET', KEYS[3])
  if stored and string.sub(stored, 1, #stamp + 1) == stamp .. '\n' then
    value = string.sub(stored, #stamp + 2)
  end
end
return {1, count, reset, 0, 0, now, stamp, value}
