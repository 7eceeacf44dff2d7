-- Stores a new attempt and supersedes the active attempt for the same address and purpose, in one
-- atomic step.
--
-- KEYS[1]  the new attempt (hash)                  <prefix>:attempt:{<address>}:<id>
-- KEYS[2]  the (address, purpose) pointer (string) <prefix>:attempt:{<address>}:current:<purpose>
-- ARGV[1]  the new attempt's id
-- ARGV[2]  the attempt key without its id          <prefix>:attempt:{<address>}:
--          The superseded attempt's key is this plus the id the pointer holds. It is only known
--          here, so it cannot be passed in KEYS; it carries the same hash tag as KEYS[1] and
--          KEYS[2], so it lives in the same cluster slot.
-- ARGV[3]  time to live of the new attempt and of the pointer, in ms
-- ARGV[4..] field, value, field, value, ... of the new attempt
--
-- Returns 1 if an active attempt was superseded, else 0.

local id, base, ttl = ARGV[1], ARGV[2], ARGV[3]

local superseded = 0
local previous = redis.call('GET', KEYS[2])
if previous and previous ~= id then
  local old = base .. previous
  if redis.call('HGET', old, 'state') == 'active' then
    redis.call('HSET', old, 'state', 'superseded')
    superseded = 1
  end
end

redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], id, 'PX', ttl)
return superseded
