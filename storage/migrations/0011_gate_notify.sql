-- Processes cache the federation gate's decisions per host (federation/gate.py::GateCache) and
-- drop them when a domain block, an allow or an instance setting (the federation mode) changes:
-- these statement-level triggers announce every such change on the channel `kith_gate`.
CREATE FUNCTION kith_gate_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kith_gate', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER domain_blocks_gate_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON domain_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION kith_gate_changed();
CREATE TRIGGER domain_allows_gate_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON domain_allows
    FOR EACH STATEMENT EXECUTE FUNCTION kith_gate_changed();
CREATE TRIGGER instance_settings_gate_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON instance_settings
    FOR EACH STATEMENT EXECUTE FUNCTION kith_gate_changed();
