-- Stores a new attempt and, for a resend, supersedes the attempt it replaces, in one atomic step.
-- No other attempt is touched: several attempts of one address and purpose may be active at once.
--
-- KEYS[1]  the new attempt (hash)        <prefix>:attempt:{<address>}:<id>
-- KEYS[2]  optional: the replaced attempt of the same address (hash), same hash tag
-- ARGV[1]  time to live of the new attempt, in ms
-- ARGV[2..] field, value, field, value, ... of the new attempt
--
-- Returns 1 if an active attempt was superseded, else 0.

local superseded = 0
if KEYS[2] and redis.call('HGET', KEYS[2], 'state') == 'active' then
  redis.call('HSET', KEYS[2], 'state', 'superseded')
  superseded = 1
end

redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return superseded
