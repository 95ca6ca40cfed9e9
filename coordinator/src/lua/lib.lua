-- Shared by every queue script (prepended to each, after the state names J and S and the
-- result status FAILED, which the coordinator writes from its Rust enums: `state.rs`). All
-- keys start with P.
-- Jobs: `job:{scan}:{i}` hashes with a state of J; scans: `scan:{id}` hashes with a state of S.
-- Queue: `queue:ready` list (LPUSH in, RPOP out), `queue:active` list and `queue:leases` zset
-- (score = lease deadline, ms) for running jobs, `queue:delayed` zset (score = when to retry),
-- `queue:dead` list (the dead-letter log). Time is Redis's own clock, so coordinators and
-- workers on different hosts agree on deadlines.
local P = 'fleetscan:'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(v)
  return tonumber(v) or 0
end

-- Appends an event with the scan's counters, then completes the scan when every job has
-- ended. Each redis.call from Lua costs about a microsecond, so this reads the counters once.
local function event(scan, kind, repo, job_state, attempt, err, worker)
  local sk = P .. 'scan:' .. scan
  local v = redis.call('HMGET', sk, 'state', 'total', 'scanned', 'skipped', 'dead', 'running',
    'occurrences')
  local finished = kind == 'finished' and v[1] == S.running
    and num(v[3]) + num(v[4]) + num(v[5]) >= num(v[2])
  redis.call('XADD', sk .. ':events', 'MAXLEN', '~', 100000, '*',
    'kind', kind, 'repo', repo or '', 'job_state', job_state or '', 'attempt', attempt or 0,
    'error', err or '', 'worker', worker or '', 'state', v[1] or '', 'total', num(v[2]),
    'scanned', num(v[3]), 'skipped', num(v[4]), 'dead', num(v[5]), 'running', num(v[6]),
    'occurrences', num(v[7]))
  if finished then
    redis.call('HSET', sk, 'state', S.completed, 'finished_ms', now_ms())
    redis.call('XADD', sk .. ':events', 'MAXLEN', '~', 100000, '*', 'kind', 'scan_ended',
      'state', S.completed, 'total', num(v[2]), 'scanned', num(v[3]), 'skipped', num(v[4]),
      'dead', num(v[5]), 'running', num(v[6]), 'occurrences', num(v[7]))
  end
end

local function leave_running(job, scan)
  redis.call('ZREM', P .. 'queue:leases', job)
  redis.call('LREM', P .. 'queue:active', 1, job)
  redis.call('HINCRBY', P .. 'scan:' .. scan, 'running', -1)
end

-- A failure that ends the job: its result says failed, and the dead-letter log keeps it.
local function dead(job, err, result)
  local jk = P .. 'job:' .. job
  local v = redis.call('HMGET', jk, 'scan', 'repo', 'url', 'attempts')
  local scan = v[1]
  if not result then
    result = cjson.encode({ repo = v[2], url = v[3], status = FAILED, reason = err,
      attempts = num(v[4]) })
  end
  redis.call('HSET', P .. 'scan:' .. scan .. ':results', v[2], result)
  redis.call('HSET', jk, 'state', J.dead, 'error', err)
  redis.call('HINCRBY', P .. 'scan:' .. scan, 'dead', 1)
  redis.call('LPUSH', P .. 'queue:dead', cjson.encode({ job = job, scan = scan, repo = v[2],
    error = err, attempts = num(v[4]), at_ms = now_ms() }))
  redis.call('LTRIM', P .. 'queue:dead', 0, 9999)
  event(scan, 'finished', v[2], J.dead, num(v[4]), err)
end

-- Another attempt after `delay_ms` (the backoff, computed by the coordinator, the same
-- function the embedded scan uses), or dead when out of attempts.
local function retry_or_dead(job, err, now, result, delay_ms)
  local jk = P .. 'job:' .. job
  local v = redis.call('HMGET', jk, 'scan', 'repo', 'attempts')
  local max_attempts = redis.call('HGET', P .. 'scan:' .. v[1], 'max_attempts')
  local attempts = num(v[3])
  if attempts >= num(max_attempts) then
    dead(job, err, result)
    return 'dead'
  end
  redis.call('ZADD', P .. 'queue:delayed', now + num(delay_ms), job)
  redis.call('HSET', jk, 'state', J.retry, 'error', err)
  event(v[1], 'retry', v[2], J.retry, attempts, err)
  return 'retry'
end

-- A job whose lease ran out goes back to the queue at once. The attempt does not count: the
-- worker may have died, or lost Redis, for reasons that have nothing to do with the
-- repository. A job that outlives MAX_EXPIRIES leases is dead-lettered all the same, so a
-- repository that kills every worker that touches it cannot loop forever.
local MAX_EXPIRIES = 5
local function expired(job, worker)
  local jk = P .. 'job:' .. job
  local attempts = redis.call('HINCRBY', jk, 'attempts', -1)
  local n = redis.call('HINCRBY', jk, 'expiries', 1)
  local err = 'lease expired: worker ' .. (worker or '?') .. ' stopped renewing it'
  if n >= MAX_EXPIRIES then
    dead(job, err .. ' (' .. n .. ' times: does the repository make workers crash?)')
    return
  end
  local v = redis.call('HMGET', jk, 'scan', 'repo')
  redis.call('HSET', jk, 'state', J.queued, 'error', err)
  redis.call('LPUSH', P .. 'queue:ready', job)
  event(v[1], 'retry', v[2], J.queued, attempts, err)
end

-- Expired leases go back to the queue (or die); due retries become ready. Bounded per call.
local function reap(now, limit)
  -- When nobody reaped for a while, Redis or every reaper was down, and no lease could be
  -- renewed meanwhile either: give the running leases that time back instead of expiring
  -- them all at once.
  local last = tonumber(redis.call('GET', P .. 'queue:reaped_ms') or '0')
  redis.call('SET', P .. 'queue:reaped_ms', now)
  if last > 0 and now - last > 5000 then
    local all = redis.call('ZRANGE', P .. 'queue:leases', 0, -1, 'WITHSCORES')
    for i = 1, #all, 2 do
      redis.call('ZADD', P .. 'queue:leases', tonumber(all[i + 1]) + (now - last), all[i])
    end
  end
  local expiring = redis.call('ZRANGEBYSCORE', P .. 'queue:leases', '-inf', now, 'LIMIT', 0, limit)
  for _, job in ipairs(expiring) do
    local jk = P .. 'job:' .. job
    local v = redis.call('HMGET', jk, 'state', 'scan', 'worker')
    if v[1] == J.running then
      leave_running(job, v[2])
      if redis.call('HGET', P .. 'scan:' .. v[2], 'state') == S.running then
        expired(job, v[3])
      else
        redis.call('HSET', jk, 'state', J.cancelled)
      end
    else
      redis.call('ZREM', P .. 'queue:leases', job)
      redis.call('LREM', P .. 'queue:active', 1, job)
    end
  end
  local due = redis.call('ZRANGEBYSCORE', P .. 'queue:delayed', '-inf', now, 'LIMIT', 0, limit)
  for _, job in ipairs(due) do
    redis.call('ZREM', P .. 'queue:delayed', job)
    local jk = P .. 'job:' .. job
    local v = redis.call('HMGET', jk, 'state', 'scan')
    if v[1] == J.retry then
      if redis.call('HGET', P .. 'scan:' .. v[2], 'state') == S.running then
        redis.call('HSET', jk, 'state', J.queued)
        redis.call('LPUSH', P .. 'queue:ready', job)
      else
        redis.call('HSET', jk, 'state', J.cancelled)
      end
    end
  end
end
