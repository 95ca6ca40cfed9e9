-- ARGV: job, token, status (J.scanned, J.skipped or FAILED), retryable (1|0), error, result
-- JSON, occurrence count, retry delay ms (for a retryable failure), then each history point's
-- JSON, in order. Stores the result and its points (replacing any earlier ones of the same
-- repository; point i of repository r is field `i:r` of the scan's `:points`) and
-- ends the job in one step, so a job is acknowledged exactly when its results are stored.
-- Returns stored | retry | stale | cancelled.
local job, token, status = ARGV[1], ARGV[2], ARGV[3]
local jk = P .. 'job:' .. job
local v = redis.call('HMGET', jk, 'state', 'token', 'scan', 'repo', 'attempts')
local scan_state = v[1] and redis.call('HGET', P .. 'scan:' .. v[3], 'state')
if not scan_state then
  return redis.error_reply('DATALOSS job ' .. job .. ' is not in Redis: its data was lost')
end
if v[1] ~= J.running or v[2] ~= token then
  return 'stale'
end
local scan = v[3]
local sk = P .. 'scan:' .. scan
leave_running(job, scan)
if scan_state == S.cancelled then
  redis.call('HSET', jk, 'state', J.cancelled)
  return 'cancelled'
end
local now = now_ms()
if status == FAILED then
  if ARGV[4] == '1' then
    if retry_or_dead(job, ARGV[5], now, ARGV[6], ARGV[8]) == 'retry' then
      return 'retry'
    end
  else
    dead(job, ARGV[5], ARGV[6])
  end
  return 'stored'
end
redis.call('HSET', sk .. ':results', v[4], ARGV[6])
for k = 9, #ARGV do
  redis.call('HSET', sk .. ':points', (k - 9) .. ':' .. v[4], ARGV[k])
end
redis.call('HSET', jk, 'state', status, 'error', '')
redis.call('HINCRBY', sk, status, 1)
if ARGV[7] ~= '0' then
  redis.call('HINCRBY', sk, 'occurrences', tonumber(ARGV[7]))
end
event(scan, 'finished', v[4], status, num(v[5]))
return 'stored'
