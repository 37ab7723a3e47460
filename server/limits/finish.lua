-- Settle or release one reservation. ARGV[1] 'settle' | 'release', ARGV[2] reservation id.
-- Returns 1 done, 0 not pending (unknown, already settled or released: nothing changes),
-- -1 settle after the lease ran out (the reservation is released instead, like the reaper would).
local mode, rid = ARGV[1], ARGV[2]
local result
if mode == 'release' then
  result = drop(rid)
else
  local deadline = redis.call('ZSCORE', K_LEASE, rid)
  if not deadline then return 0 end
  if tonumber(deadline) <= now then
    drop(rid)
    result = -1
  else
    -- settled: its images stay in their buckets and count until those age out
    redis.call('HDEL', K_PEND, rid)
    redis.call('ZREM', K_LEASE, rid)
    return 1
  end
end
if result ~= 0 then save_windows() end
return result
