-- Bump a generation: every cached response stamped with its current value stops being read.
--
-- KEYS[1]  the generation (a student's or a class's)
-- The new value is the clock in microseconds, or the old value + 1 if that is not larger, so it
-- only ever grows, and a key that was evicted and started again never repeats an old value.
-- Returns the new value.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local next_value = math.max(now, current + 1)
redis.call('SET', KEYS[1], string.format('%d', next_value))
return next_value
