-- leakwatch schema version 11: the room a legacy (v1) cgroup's memory limits left.
--
-- On a host whose memory controller is on a v1 hierarchy, a process's memory limits
-- are its cgroup's (and its ancestors') memory.limit_in_bytes and
-- memory.soft_limit_in_bytes against memory.usage_in_bytes, not memory.max and
-- memory.high: an alert's evidence keeps their rooms beside the others, in bytes;
-- NULL: not known (a v2 host, no limit set, unreadable), as for every room.
ALTER TABLE alert_evidence ADD COLUMN room_v1_limit REAL;      -- memory.limit_in_bytes
ALTER TABLE alert_evidence ADD COLUMN room_v1_soft_limit REAL; -- memory.soft_limit_in_bytes
