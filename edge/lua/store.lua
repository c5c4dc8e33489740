-- Store a computed response under the key built from the current generation numbers, and
-- remember the student's class so the next lookup can build the key in one round trip.
--
-- ARGV[1] cache key prefix   ARGV[2] student id ('' = none)   ARGV[3] class id ('' = none)
-- ARGV[4] value              ARGV[5] time to live in ms
-- Returns the key written.

local student = ARGV[2]
local class = ARGV[3]
if student ~= '' and class ~= '' then
  redis.call('SET', 'cls:' .. student, class, 'PX', 86400000)
elseif student ~= '' then
  -- A response that does not name the class (a week of records): use the one remembered.
  class = redis.call('GET', 'cls:' .. student) or ''
end
local gs = student ~= '' and (redis.call('GET', 'gen:s:' .. student) or '0') or '-'
local gc = class ~= '' and (redis.call('GET', 'gen:c:' .. class) or '0') or '-'
local key = ARGV[1] .. ':s' .. gs .. ':c' .. gc
redis.call('SET', key, ARGV[4], 'PX', tonumber(ARGV[5]))
return key
