-- ARGV: lease ms, then job, token pairs. Returns 1 (held), 2 (lost) or 3 (cancelled) per pair.
local now = now_ms()
local out = {}
for i = 2, #ARGV, 2 do
  local job = ARGV[i]
  local v = redis.call('HMGET', P .. 'job:' .. job, 'state', 'token', 'scan')
  local r = 2
  if v[1] == J.running and v[2] == ARGV[i + 1] then
    if redis.call('HGET', P .. 'scan:' .. v[3], 'state') == S.cancelled then
      r = 3
    else
      redis.call('ZADD', P .. 'queue:leases', 'XX', now + tonumber(ARGV[1]), job)
      r = 1
    end
  elseif v[3] and redis.call('HGET', P .. 'scan:' .. v[3], 'state') == S.cancelled then
    r = 3
  end
  out[#out + 1] = r
end
return out
