-- Delivery statuses only move forward. The rank of each status (unknown ones rank lowest):
--   received/queued 0 < accepted 1 < sent 2 < delivered 3 < failed 4 < read 5.
-- `failed` overrides sent/delivered (Meta can report a failure after `sent`) but not `read`:
-- a message the customer has read was delivered, whatever came later.
create or replace function alphadome.message_status_rank(s text) returns integer
language sql immutable parallel safe as $$
  select case s
    when 'received' then 0
    when 'queued' then 0
    when 'accepted' then 1
    when 'sent' then 2
    when 'delivered' then 3
    when 'failed' then 4
    when 'read' then 5
    else -1
  end
$$;
grant execute on function alphadome.message_status_rank(text) to alphadome_app, alphadome_operator;
