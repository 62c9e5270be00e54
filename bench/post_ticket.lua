-- wrk script for `make bench`: POST /api/v1/tickets with a realistic ticket.
--
-- The JSON body comes from the PAKN_BENCH_BODY environment variable (bench/run.py
-- writes it with category/area codes read from the database); the default below
-- is the API contract's example. Every occurrence of "__SEQ__" is replaced per
-- request by "<thread>-<counter>" so titles differ between tickets.
--
--   wrk -t2 -c16 -d15s --latency -s bench/post_ticket.lua http://127.0.0.1:8000/api/v1/tickets

local default_body = '{"kind": "feedback", "category": "env", '
  .. '"title": "Rác thải ùn ứ trên đường Nguyễn Văn Linh (#__SEQ__)", '
  .. '"description": "Rác thải sinh hoạt tồn đọng nhiều ngày trước số 120, gây mùi hôi và mất vệ sinh.", '
  .. '"location": {"address": "120 Nguyễn Văn Linh", "area": "DN-HAICHAU", "lat": 16.06, "lng": 108.21}, '
  .. '"citizen": {"name": "Nguyễn Văn A", "email": "a@example.com", "phone": "0905123456"}}'

local body = os.getenv("PAKN_BENCH_BODY")
if body == nil or body == "" then
  body = default_body
end

-- Split the body around the first "__SEQ__" once, so request() only concatenates.
local marker = "__SEQ__"
local first, last = string.find(body, marker, 1, true)
local prefix, suffix
if first then
  prefix = string.sub(body, 1, first - 1)
  suffix = string.sub(body, last + 1)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body

-- setup() runs in the main Lua state; thread:set() defines a global in each thread's state.
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

local counter = 0
function request()
  if prefix == nil then
    return wrk.format()
  end
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. (thread_id or 0) .. "-" .. counter .. suffix)
end
