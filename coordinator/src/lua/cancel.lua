-- ARGV: scan. Queued and delayed jobs are dropped when they come up; running ones learn it
-- at their next heartbeat and their results are refused. Returns the scan's state after.
local sk = P .. 'scan:' .. ARGV[1]
local st = redis.call('HGET', sk, 'state')
if not st then
  return false
end
if st == S.running then
  redis.call('HSET', sk, 'state', S.cancelled, 'finished_ms', now_ms())
  event(ARGV[1], 'scan_ended')
  return S.cancelled
end
return st
