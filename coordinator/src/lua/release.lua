-- ARGV: job, token, worker. A worker that stops hands its job back: it is next in line and
-- the attempt does not count. Returns 1 when released, 0 when the lease was no longer held.
local jk = P .. 'job:' .. ARGV[1]
local v = redis.call('HMGET', jk, 'state', 'token', 'scan', 'repo', 'attempts')
if v[1] ~= J.running or v[2] ~= ARGV[2] then
  return 0
end
leave_running(ARGV[1], v[3])
redis.call('HINCRBY', jk, 'attempts', -1)
redis.call('HSET', jk, 'state', J.queued)
redis.call('RPUSH', P .. 'queue:ready', ARGV[1])
event(v[3], 'retry', v[4], J.queued, num(v[5]) - 1, 'handed back by worker ' .. ARGV[3])
return 1
