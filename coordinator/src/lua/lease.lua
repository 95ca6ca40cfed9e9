-- ARGV: worker id, lease ms, reap limit. Returns {job, token, scan, repo, url, job_spec} or nil.
local now = now_ms()
reap(now, tonumber(ARGV[3]))
while true do
  local job = redis.call('RPOP', P .. 'queue:ready')
  if not job then
    return false
  end
  local jk = P .. 'job:' .. job
  local v = redis.call('HMGET', jk, 'state', 'scan', 'repo', 'url')
  if v[1] == 'queued' then
    local sk = P .. 'scan:' .. v[2]
    local st = redis.call('HGET', sk, 'state')
    if st == 'running' then
      local attempt = redis.call('HINCRBY', jk, 'attempts', 1)
      local token = redis.call('HINCRBY', jk, 'leases', 1)
      redis.call('HSET', jk, 'state', 'running', 'token', token, 'worker', ARGV[1])
      redis.call('ZADD', P .. 'queue:leases', now + tonumber(ARGV[2]), job)
      redis.call('LPUSH', P .. 'queue:active', job)
      redis.call('HINCRBY', sk, 'running', 1)
      event(v[2], 'started', v[3], 'running', attempt, '', ARGV[1])
      return { job, token, v[2], v[3], v[4], redis.call('HGET', sk, 'job_spec') }
    elseif st == 'cancelled' then
      redis.call('HSET', jk, 'state', 'cancelled')
    end
  end
end
