-- Change notifications for the API's cache of API keys and projects (apps/api/src/auth/
-- tenancy-cache.ts): every API process LISTENs on capy_tenancy_changed and empties its cache
-- when a key or project changes, whoever changes it (the API, the admin CLI, plain SQL). Sent
-- by Postgres at commit, so a rolled-back change invalidates nothing.
-- The body is an escape string with \073 for each semicolon: the driver adapter that applies
-- migrations splits scripts at every semicolon, dollar quotes or not.
CREATE FUNCTION "capy_notify_tenancy_changed"() RETURNS trigger LANGUAGE plpgsql AS
  E'BEGIN PERFORM pg_notify(''capy_tenancy_changed'', TG_TABLE_NAME)\073 RETURN NULL\073 END'
;

-- last_used_at alone is a usage hint written once a minute per key: no reason to drop caches.
CREATE TRIGGER "api_keys_updated" AFTER UPDATE ON "api_keys" FOR EACH ROW
  WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
  EXECUTE FUNCTION "capy_notify_tenancy_changed"();
CREATE TRIGGER "api_keys_deleted" AFTER DELETE OR TRUNCATE ON "api_keys" FOR EACH STATEMENT
  EXECUTE FUNCTION "capy_notify_tenancy_changed"();
CREATE TRIGGER "projects_changed" AFTER UPDATE OR DELETE OR TRUNCATE ON "projects" FOR EACH STATEMENT
  EXECUTE FUNCTION "capy_notify_tenancy_changed"();
