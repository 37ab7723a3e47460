-- Check-and-reserve n images across every window, all or nothing, in one atomic step.
-- ARGV[1] reservation id, ARGV[2] n (0 = peek: only report), ARGV[3] lease µs,
-- then (name, limit, window_s) for each window of this call, in the order to report them.
-- Returns {status, rid | refusing window | '', retry_after_s,
--          name1, limit1, remaining1, reset_s1, name2, ...}; status 1 admitted, 0 refused, 2 peek.
-- Mirrors memory.py step for step.
local rid, n, lease_us = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local req = {}
for i = 4, #ARGV, 3 do
  req[#req + 1] = {name = ARGV[i], limit = tonumber(ARGV[i + 1]), w = tonumber(ARGV[i + 2]) * 1000000}
end
local function ceil_s(us) if us <= 0 then return 0 end return math.floor((us + 999999) / 1000000) end

-- 1. reservations whose lease ran out are released (a crashed replica never settles them)
for _, r in ipairs(redis.call('ZRANGEBYSCORE', K_LEASE, '-inf', fmt(now))) do drop(r) end

-- 2. windows this call names take its window length, then every known window ages
for _, q in ipairs(req) do if wlen[q.name] then wlen[q.name] = q.w end end
for _, name in ipairs(names) do
  local edge = now - wlen[name]
  if edge > cursor[name] then
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', K_LOG, '(' .. fmt(cursor[name]), fmt(edge))) do
      total[name] = total[name] - n_of(m)
    end
    cursor[name] = edge
  end
end

-- 3. the log keeps only what some window still counts (bounded memory)
local oldest = nil
for _, name in ipairs(names) do
  if oldest == nil or cursor[name] < oldest then oldest = cursor[name] end
end
if oldest then redis.call('ZREMRANGEBYSCORE', K_LOG, '-inf', fmt(oldest)) else redis.call('DEL', K_LOG) end

-- 4. a window new to this subject starts from what the log still remembers
for _, q in ipairs(req) do
  if not wlen[q.name] then
    local s = 0
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', K_LOG, '(' .. fmt(now - q.w), '+inf')) do s = s + n_of(m) end
    names[#names + 1] = q.name; wlen[q.name] = q.w; cursor[q.name] = now - q.w; total[q.name] = s
  end
end

-- Time at which enough of the oldest counted entries have left window q for n more to fit.
local function retry_us(q)
  if n > q.limit then return q.w end -- can never fit; the caller rejects this up front
  local need, offset = total[q.name] + n - q.limit, 0
  while true do
    local batch = redis.call('ZRANGEBYSCORE', K_LOG, '(' .. fmt(cursor[q.name]), '+inf',
      'WITHSCORES', 'LIMIT', offset, 64)
    if #batch == 0 then return q.w end -- unreachable: need <= total whenever n <= limit
    for j = 1, #batch, 2 do
      need = need - n_of(batch[j])
      if need <= 0 then return tonumber(batch[j + 1]) + wlen[q.name] - now end
    end
    offset = offset + 64
  end
end

local function states(out)
  local newest = redis.call('ZREVRANGE', K_LOG, 0, 0, 'WITHSCORES')
  for _, q in ipairs(req) do
    local used, reset = total[q.name], 0
    -- the newest entry is counted in every window that counts anything
    if used > 0 and newest[2] then reset = ceil_s(tonumber(newest[2]) + wlen[q.name] - now) end
    out[#out + 1] = q.name; out[#out + 1] = q.limit
    out[#out + 1] = math.max(0, q.limit - used); out[#out + 1] = reset
  end
  return out
end

local status, label, retry = 2, '', 0
if n > 0 then
  local worst = -1
  for _, q in ipairs(req) do
    if total[q.name] + n > q.limit then
      local r = retry_us(q)
      if r > worst then worst = r; label = q.name end -- ties keep the first listed
    end
  end
  if worst >= 0 then
    status, retry = 0, ceil_s(worst)
  else
    status, label = 1, rid
    redis.call('ZADD', K_LOG, fmt(now), rid .. ':' .. n)
    redis.call('HSET', K_PEND, rid, n)
    redis.call('ZADD', K_LEASE, fmt(now + lease_us), rid)
    for _, name in ipairs(names) do total[name] = total[name] + n end
  end
end
save_windows()

-- idle subjects vanish once nothing they hold can matter any more
local ttl = lease_us
for _, name in ipairs(names) do if wlen[name] > ttl then ttl = wlen[name] end end
ttl = fmt(math.floor(ttl / 1000) + 1000)
for _, k in ipairs({K_LOG, K_WIN, K_PEND, K_LEASE}) do redis.call('PEXPIRE', k, ttl) end

return states({status, label, retry})
