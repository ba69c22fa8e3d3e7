-- Accounts, continued: a check's account is an exported column, so a change of it (a named
-- account adopting a check recorded as 'unknown') is a change `export --cursor` must see; and
-- each run counts the input ids it set aside because another account had read them first.
ALTER TABLE runs ADD COLUMN other_account INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER checks_change_on_account
AFTER UPDATE OF partner_code, endpoint_host ON checks
WHEN OLD.partner_code IS NOT NEW.partner_code OR OLD.endpoint_host IS NOT NEW.endpoint_host
BEGIN
    INSERT INTO check_changes (check_id) VALUES (NEW.id);
END;
