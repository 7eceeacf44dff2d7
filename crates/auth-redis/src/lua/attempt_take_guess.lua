-- Takes one guess: only if the attempt is active, unexpired at `now` and has evaluated fewer than
-- the budget of guesses; then its count goes up by one.
--
-- KEYS[1]  the attempt (hash)   <prefix>:attempt:{<address>}:<id>
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  the guess budget
--
-- Returns nil when no guess may be taken (nothing changes), else every field of the attempt after
-- counting this guess, as HGETALL gives them. Fails with CORRUPT if the fields make no sense.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return nil
end

local f = redis.call('HMGET', KEYS[1], 'state', 'expires_at', 'guesses')
local state, expires_at, guesses = f[1], tonumber(f[2]), tonumber(f[3])
if not state or not expires_at or not guesses then
  return redis.error_reply('CORRUPT attempt lacks state, expires_at or guesses')
end

if state ~= 'active' or tonumber(ARGV[1]) >= expires_at or guesses >= tonumber(ARGV[2]) then
  return nil
end

redis.call('HINCRBY', KEYS[1], 'guesses', 1)
return redis.call('HGETALL', KEYS[1])
