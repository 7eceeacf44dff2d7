-- Takes one guess: only if the attempt is active, unexpired at `now` and has evaluated fewer than
-- the budget of guesses; then its count goes up by one.
--
-- KEYS[1]  the attempt (hash)   <prefix>:attempt:{<prefix>}:<id>
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  the guess budget
--
-- Returns nil when no guess may be taken (nothing changes), else every field of the attempt after
-- counting this guess, as HGETALL gives them.

if not take_guess(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])) then
  return nil
end
return redis.call('HGETALL', KEYS[1])
