/// The four-layer admission policy as Redis Lua, mirroring `CounterTransaction` and
/// `ScopeCounters` step for step, so the benchmark compares engines, not algorithms:
///
/// - one hash per scope (`g`, `o:…`, `e:…`, `k:…`) holding what a `ScopeCounters` record holds:
///   minute and day heads (`mh`, `dh`), running totals (`rt` requests/min, `tt` tokens/min,
///   `dt` tokens/day), the token bucket (`lvl`, `upd`), the concurrency count (`conc`), and the
///   ring buckets (`r<i>`, `t<i>`, `d<i>`); a decision reads each scope with one HMGET and
///   writes it with one HSET, and moving a window forward touches only the expired buckets;
/// - leases in one sorted set `leases`, scored by expiry, member `<lease id>|<scopes>`, swept
///   before each admission as the LMDB side sweeps its `l|…` records.
///
/// Scripts: `admit` and `settle` as the gateway would call them, and `decide` (admit, then
/// settle with actual = estimate, in one call) which the benchmark times: redis-benchmark cannot
/// carry one reply into the next command, and one round trip per decision instead of two
/// favours Redis, so the ratio is if anything understated.
enum RedisScripts {
    static var admit: String { functions + "\nreturn admit(KEYS, ARGV)\n" }
    static var settle: String { functions + "\nreturn settle(KEYS, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))\n" }
    static var decide: String {
        functions + """

        local reply = admit(KEYS, ARGV)
        if reply[1] == 1 then settle(KEYS, ARGV[2], tonumber(ARGV[1]), tonumber(ARGV[1]), reply[3]) end
        return reply[1]

        """
    }

    /// KEYS (every script): the layer scopes, outermost first: global, org, env, key.
    /// admit ARGV: estimate, leaseID, leaseMillis, burstSeconds, then for each layer in KEYS
    ///   order its five limits tokens/day, requests/min, tokens/min, tokens/s, concurrency
    ///   ('-' = none). Reply: {1, leaseID, admittedAtMillis, limitRequests, remainingRequests,
    ///   resetRequestsMillis, limitTokens, remainingTokens, resetTokensMillis} (-1 = unlimited),
    ///   or {0, layer, limit kind, limit value, retryAfterMillis (-1 = waiting cannot help)}.
    /// settle ARGV: leaseID, estimate, actual tokens, admittedAtMillis. Reply: 1.
    static let functions = #"""
    local clock = redis.call('TIME')
    local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
    local MINUTE = {width = 1000, count = 61, head = 'mh', rings = {{'r', 'rt'}, {'t', 'tt'}}}
    local DAY = {width = 900000, count = 97, head = 'dh', rings = {{'d', 'dt'}}}
    local WINDOWS = {
      tokens_per_day = {shape = DAY, ring = 'd', total = 'dt'},
      requests_per_minute = {shape = MINUTE, ring = 'r', total = 'rt'},
      tokens_per_minute = {shape = MINUTE, ring = 't', total = 'tt'},
    }
    local LAYERS = {'global', 'org', 'env', 'key'}
    local CONCURRENCY_RETRY_MILLIS = 1000

    local function slot(ring, bucket, shape) return ring .. (bucket % shape.count) end

    -- Moves a shape's rings forward to now: expired buckets are read, taken off the totals and
    -- zeroed (ScopeCounters.advance).
    local function advance(s, shape)
      local current = math.floor(now / shape.width)
      local head = s[shape.head]
      if current <= head then return end
      local first = math.max(head + 1, current - shape.count + 1)
      if head < 0 then first = current - shape.count + 1 end
      local names = {}
      for _, ring in ipairs(shape.rings) do
        for bucket = first, current do names[#names + 1] = slot(ring[1], bucket, shape) end
      end
      local values = redis.call('HMGET', s.key, unpack(names))
      for i, name in ipairs(names) do
        local total = shape.rings[math.floor((i - 1) / (current - first + 1)) + 1][2]
        if head >= 0 and current - head < shape.count then s[total] = s[total] - (tonumber(values[i]) or 0) end
        s.ring[name] = 0
        s.dirty[name] = true
      end
      if head < 0 or current - head >= shape.count then
        for _, ring in ipairs(shape.rings) do s[ring[2]] = 0 end
      end
      s[shape.head] = current
    end

    -- Reads a scope with one HMGET, prefetching the ring buckets of `instant` (now, or the
    -- admission being settled), and moves it forward to now.
    local function load(key, instant)
      local m, d = math.floor(instant / MINUTE.width), math.floor(instant / DAY.width)
      local names = {'mh', 'dh', 'rt', 'tt', 'dt', 'lvl', 'upd', 'conc',
                     slot('r', m, MINUTE), slot('t', m, MINUTE), slot('d', d, DAY)}
      local v = redis.call('HMGET', key, unpack(names))
      local s = {key = key, mh = tonumber(v[1]) or -1, dh = tonumber(v[2]) or -1, rt = tonumber(v[3]) or 0,
                 tt = tonumber(v[4]) or 0, dt = tonumber(v[5]) or 0, lvl = tonumber(v[6]), upd = tonumber(v[7]),
                 conc = tonumber(v[8]) or 0, ring = {}, dirty = {}}
      for i = 9, 11 do s.ring[names[i]] = tonumber(v[i]) or 0 end
      advance(s, MINUTE)
      advance(s, DAY)
      return s
    end

    local function save(s)
      local args = {'mh', s.mh, 'dh', s.dh, 'rt', s.rt, 'tt', s.tt, 'dt', s.dt, 'conc', s.conc}
      if s.upd then
        args[#args + 1] = 'lvl'; args[#args + 1] = s.lvl
        args[#args + 1] = 'upd'; args[#args + 1] = s.upd
      end
      for name in pairs(s.dirty) do
        args[#args + 1] = name; args[#args + 1] = s.ring[name]
      end
      redis.call('HSET', s.key, unpack(args))
    end

    -- ScopeCounters.add: to the bucket holding `instant`, dropped if it left the window.
    local function add(s, window, amount, instant)
      local shape = window.shape
      local bucket, head = math.floor(instant / shape.width), s[shape.head]
      if bucket < 0 or bucket > head or bucket <= head - shape.count then return end
      local name = slot(window.ring, bucket, shape)
      local old = s.ring[name] or tonumber(redis.call('HGET', s.key, name)) or 0
      local new = math.max(0, old + amount)
      s[window.total] = s[window.total] + new - old
      s.ring[name] = new
      s.dirty[name] = true
    end

    -- ScopeCounters.wait: walks the ring oldest first, only when the limit is exceeded.
    local function wait(s, window, extra, limit)
      if extra > limit then return nil end
      local excess = s[window.total] + extra - limit
      if excess <= 0 then return 0 end
      local shape = window.shape
      local head = s[shape.head]
      for bucket = math.max(0, head - shape.count + 1), head do
        local name = slot(window.ring, bucket, shape)
        excess = excess - (s.ring[name] or tonumber(redis.call('HGET', s.key, name)) or 0)
        if excess <= 0 then return math.max(0, (bucket + shape.count) * shape.width - now) end
      end
      return nil
    end

    local function orNone(value) if value == nil then return -1 end return value end

    local function releaseSlot(scope)
      if redis.call('HINCRBY', scope, 'conc', -1) < 0 then redis.call('HSET', scope, 'conc', 0) end
    end

    -- Gives back the slots of every expired lease (CounterAccess.sweepExpiredLeases).
    local function sweep()
      for _, member in ipairs(redis.call('ZRANGEBYSCORE', 'leases', '-inf', now)) do
        local scopes = string.sub(member, string.find(member, '|', 1, true) + 1)
        for scope in string.gmatch(scopes, '[^,]+') do releaseSlot(scope) end
        redis.call('ZREM', 'leases', member)
      end
    end

    local function leaseMember(id, keys) return id .. '|' .. table.concat(keys, ',') end

    local function admit(keys, argv)
      sweep()
      local estimate, leaseID = tonumber(argv[1]), argv[2]
      local leaseMillis, burstSeconds = tonumber(argv[3]), tonumber(argv[4])
      local function limitOf(layer, index)
        local value = argv[4 + (layer - 1) * 5 + index]
        if value == '-' then return nil end
        return tonumber(value)
      end
      local scopes = {}
      for layer = 1, 4 do scopes[layer] = load(keys[layer], now) end

      -- The x-ratelimit-* snapshot: the tightest layer's per-minute figures, before this request.
      local snapshot = {-1, -1, 0, -1, -1, 0}
      local tightest = {}
      for layer = 1, 4 do
        for at, pick in pairs({[1] = {'requests_per_minute', 2}, [4] = {'tokens_per_minute', 3}}) do
          local limit = limitOf(layer, pick[2])
          if limit then
            local remaining = math.max(0, limit - scopes[layer][WINDOWS[pick[1]].total])
            if snapshot[at + 1] == -1 or remaining < snapshot[at + 1] then
              snapshot[at], snapshot[at + 1], tightest[at] = limit, remaining, layer
            end
          end
        end
      end
      if tightest[1] then snapshot[3] = wait(scopes[tightest[1]], WINDOWS.requests_per_minute, 1, snapshot[1]) or 60000 end
      if tightest[4] then snapshot[6] = wait(scopes[tightest[4]], WINDOWS.tokens_per_minute, 1, snapshot[4]) or 60000 end

      for layer = 1, 4 do
        local s = scopes[layer]
        for index, kind in ipairs({'tokens_per_day', 'requests_per_minute', 'tokens_per_minute'}) do
          local window, limit = WINDOWS[kind], limitOf(layer, index)
          local amount = estimate
          if kind == 'requests_per_minute' then amount = 1 end
          if limit and s[window.total] + amount > limit then
            return {0, LAYERS[layer], kind, limit, orNone(wait(s, window, amount, limit))}
          end
          add(s, window, amount, now)
        end
        local rate = limitOf(layer, 4)
        if rate then
          -- Token bucket with debt, in milli-tokens (TokenBucket).
          local capacity = rate * burstSeconds * 1000
          local level, updated = s.lvl, s.upd
          if not updated then level, updated = capacity, now end
          level = math.min(capacity, level + rate * math.max(0, now - updated))
          if level <= 0 then
            return {0, LAYERS[layer], 'tokens_per_second', rate, math.floor(-level / math.max(rate, 1)) + 1}
          end
          s.lvl, s.upd = level - estimate * 1000, math.max(updated, now)
        end
        local concurrency = limitOf(layer, 5)
        if concurrency and s.conc >= concurrency then
          return {0, LAYERS[layer], 'concurrency', concurrency, CONCURRENCY_RETRY_MILLIS}
        end
        s.conc = s.conc + 1
      end
      for layer = 1, 4 do save(scopes[layer]) end
      redis.call('ZADD', 'leases', now + leaseMillis, leaseMember(leaseID, keys))
      return {1, leaseID, now, snapshot[1], snapshot[2], snapshot[3], snapshot[4], snapshot[5], snapshot[6]}
    end

    -- CounterTransaction.settle: true up the estimate where it was charged, give the lease's
    -- slots back unless its sweep already did.
    local function settle(keys, leaseID, estimate, actual, admittedAt)
      local delta = math.max(0, actual) - estimate
      local held = redis.call('ZREM', 'leases', leaseMember(leaseID, keys)) == 1
      if not held and delta == 0 then return 1 end
      for layer = 1, 4 do
        local s = load(keys[layer], admittedAt)
        if delta ~= 0 then
          add(s, WINDOWS.tokens_per_minute, delta, admittedAt)
          add(s, WINDOWS.tokens_per_day, delta, admittedAt)
          if s.upd then s.lvl = s.lvl - delta * 1000 end
        end
        if held then s.conc = math.max(0, s.conc - 1) end
        save(s)
      end
      return 1
    end
    """#
}
