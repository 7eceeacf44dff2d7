-- Presents an OpenID Connect authorization code, atomically.
-- KEYS[1] the code's hash; ARGV[1] now (ms since the epoch).
-- Returns {0} for an unknown code or an unused expired one, {1, grant} when this call takes it,
-- {2, grant} when it was taken before (a replay), which it remembers in `replayed`.
local h = redis.call('HMGET', KEYS[1], 'grant', 'expires_at', 'used_at')
if not h[1] then
  return {0}
end
if h[3] then
  redis.call('HSET', KEYS[1], 'replayed', '1')
  return {2, h[1]}
end
if tonumber(ARGV[1]) >= tonumber(h[2]) then
  return {0}
end
redis.call('HSET', KEYS[1], 'used_at', ARGV[1])
return {1, h[1]}
