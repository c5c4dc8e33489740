-- Bump generations: every cached response stamped with one of their current values stops being
-- read.
--
-- KEYS     the generations (students' and classes'), one or many
-- Each new value is the clock in microseconds, or the old value + 1 if that is not larger, so it
-- only ever grows, and a key that was evicted and started again never repeats an old value.
-- Returns the new value of the last key.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local next_value = 0
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  next_value = math.max(now, current + 1)
  redis.call('SET', KEYS[i], string.format('%d', next_value))
end
return next_value
