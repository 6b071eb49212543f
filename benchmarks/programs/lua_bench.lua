-- CPU-bound Lua for bench compute: recursion, integer and float loops, arrays, hash tables,
-- strings, closures. `lua lua_bench.lua [SCALE]` prints "<checksum> <CPU ns>" (os.clock: the
-- process's CPU time, so start-up and compilation before the script are not counted).
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local scale = tonumber(arg and arg[1]) or 1
local t0 = os.clock()
local acc = 0
for _ = 1, scale do
  acc = acc + fib(25)
  local s = 0
  for i = 1, 2000000 do s = (s + i * i) % 1000003 end
  acc = acc + s
  local x = 0.5
  for _ = 1, 1000000 do x = x * 3.7 * (1 - x) end
  acc = acc + math.floor(x * 1e6)
  local t = {}
  for i = 1, 200000 do t[i] = i * 2 end
  for i = 1, #t do acc = acc + t[i] % 7 end
  local h = {}
  for i = 1, 50000 do h["k" .. i] = i end
  for k, v in pairs(h) do acc = acc + #k + v % 3 end
  local parts = {}
  for i = 1, 30000 do parts[#parts + 1] = string.format("%d:%s", i, string.rep("x", i % 8)) end
  local joined = table.concat(parts, ",")
  acc = acc + #joined + select(2, joined:gsub("xx", "y")) + #joined:upper():lower()
  table.sort(parts)
  acc = acc + #parts[1]
  for i = 1, 200000 do local f = function(y) return y + i end; acc = acc + f(1) % 5 end
  acc = acc % 1000000007
end
print(acc, math.floor((os.clock() - t0) * 1e9))
