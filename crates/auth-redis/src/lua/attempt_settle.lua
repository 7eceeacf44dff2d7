-- The second step of a guess, once the caller knows whether the code proves the attempt: checks
-- the failure budget, takes one guess, then consumes the attempt and forgets the failures
-- (proven) or records one failure (not proven), in one atomic step.
--
-- KEYS[1]  the failures (hash: count, last_at, window_ends)   <prefix>:failures:{<prefix>}:<hash(key)>
-- KEYS[2]  the attempt (hash)                                 <prefix>:attempt:{<prefix>}:<id>
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  the guess budget of the attempt
-- ARGV[3]  1 if the code proves the attempt, else 0
-- ARGV[4]  the failure budget: failures allowed within the window
-- ARGV[5]  failures that cost no waiting
-- ARGV[6]  the first wait after those, in ms (each later failure doubles it)
-- ARGV[7]  the longest wait, in ms
-- ARGV[8]  the failure window, in ms
--
-- Returns {0, retry_after_ms} when the failures refuse (nothing changes), else {1, outcome}:
-- 0 no guess was taken (nothing changes), 1 a wrong guess was counted, 2 the attempt was
-- consumed.

local now = tonumber(ARGV[1])
local max_guesses, proven = tonumber(ARGV[2]), ARGV[3] == '1'
local budget, free, base, longest = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local window = tonumber(ARGV[8])

-- The failure budget, as auth_core::rate::Backoff::decide.
local count, last_at, window_ends = failures_of(KEYS[1])
if window_ends and now < window_ends then
  if count >= budget then
    return {0, window_ends - now}
  end
  local free_ones = math.max(free, 1)
  local wait = 0
  if count >= free_ones then
    wait = math.min(base * 2 ^ math.min(count - free_ones, 30), longest)
  end
  if now < last_at + wait then
    return {0, last_at + wait - now}
  end
end

if not take_guess(KEYS[2], now, max_guesses) then
  return {1, 0}
end
if proven then
  redis.call('HSET', KEYS[2], 'state', 'consumed')
  redis.call('DEL', KEYS[1])
  return {1, 2}
end
record_failure(KEYS[1], now, window)
return {1, 1}
