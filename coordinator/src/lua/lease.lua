-- ARGV: worker id, lease ms, reap limit, token (random, chosen by the coordinator, so that nobody
-- can guess it). Returns {job, token, scan, repo, url, job_spec} or nil. Drops at most 1000
-- jobs of cancelled or deleted scans per call, so one call never blocks Redis for long.
-- Expired leases and due retries are handled here only when no job is ready: the
-- coordinators do it every second anyway, and the hot path stays short.
local now = now_ms()
for _ = 1, 1000 do
  local job = redis.call('RPOP', P .. 'queue:ready')
  if not job then
    reap(now, tonumber(ARGV[3]))
    job = redis.call('RPOP', P .. 'queue:ready')
    if not job then
      return false
    end
  end
  local jk = P .. 'job:' .. job
  local v = redis.call('HMGET', jk, 'state', 'scan', 'repo', 'url')
  if v[1] == J.queued then
    local sk = P .. 'scan:' .. v[2]
    local s = redis.call('HMGET', sk, 'state', 'job_spec')
    if s[1] == S.running then
      redis.call('HINCRBY', jk, 'attempts', 1)
      local token = ARGV[4]
      redis.call('HSET', jk, 'state', J.running, 'token', token, 'worker', ARGV[1])
      redis.call('ZADD', P .. 'queue:leases', now + tonumber(ARGV[2]), job)
      redis.call('LPUSH', P .. 'queue:active', job)
      redis.call('HINCRBY', sk, 'running', 1)
      return { job, token, v[2], v[3], v[4], s[2] }
    elseif s[1] == S.cancelled then
      redis.call('HSET', jk, 'state', J.cancelled)
    end
  end
end
return false
