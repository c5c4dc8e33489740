-- Store a computed response under the stamp of the generations it was computed at.
--
-- KEYS[1]  cached response
-- KEYS[2..] generations to add to the stamp now (those the lookup could not name: the class
--           of a student this process had not seen yet)
-- ARGV[1]  the stamp the lookup returned    ARGV[2]  value    ARGV[3]  time to live in ms
-- Returns the stamp stored.

local stamp = ARGV[1]
for i = 2, #KEYS do
  stamp = stamp .. KEYS[i] .. '=' .. (redis.call('GET', KEYS[i]) or '0') .. ';'
end
redis.call('SET', KEYS[1], stamp .. '\n' .. ARGV[2], 'PX', tonumber(ARGV[3]))
return stamp
