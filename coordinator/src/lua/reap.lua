-- ARGV: limit. Runs the periodic housekeeping also done at every lease.
reap(now_ms(), tonumber(ARGV[1]))
return 1
