-- Status ids whose low 16 bits cannot be guessed, so that one status URI does not reveal its
-- neighbours. `kith_id()` takes the low bits from the sequence itself: ids made in one
-- millisecond are consecutive, and anyone holding one status id could walk to the next.
--
-- `kith_status_id()` makes the low bits a keyed permutation of (sequence & 65535): a 16-bit
-- Feistel network whose round keys come from md5 of a per-database secret and the id's
-- millisecond. A Feistel network is a bijection whatever its round function, so within one
-- millisecond two sequence values give two different low parts: ids stay exactly as unique as
-- before (65536 per millisecond). The millisecond stays in the high bits, so ids still sort by
-- time across milliseconds; within one they are shuffled. Keying each millisecond differently
-- means that learning the low bits of one's own ids says nothing about anyone else's.
--
-- Only statuses take these ids: their ids are in public URIs, and nothing orders two statuses
-- made in the same millisecond. Every other table keeps `kith_id()`, whose rows made one after
-- another in one transaction (a filter's keywords, audit entries) keep their order by id.
--
-- The secret is made once, here. PostgreSQL's core gen_random_uuid() draws from the system's
-- strong random source (pgcrypto is not in the embedded build); two uuids give 244 random bits.

CREATE TABLE kith_id_secret (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret   text NOT NULL
);

INSERT INTO kith_id_secret (secret)
VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- The 16-bit value `plain` permuted under `key`: four Feistel rounds over two 8-bit halves, each
-- round mixing the right half into the left with the first byte of md5(key, round, right half).
CREATE FUNCTION kith_id_permute(plain integer, key text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    left_half  integer := (plain >> 8) & 255;
    right_half integer := plain & 255;
    mixed      integer;
BEGIN
    FOR round IN 1..4 LOOP
        mixed := left_half # get_byte(decode(md5(key || ':' || round || ':' || right_half), 'hex'), 0);
        left_half := right_half;
        right_half := mixed;
    END LOOP;
    RETURN (left_half << 8) | right_half;
END;
$$;

CREATE FUNCTION kith_status_id(at timestamptz DEFAULT clock_timestamp()) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    millis bigint := floor(extract(epoch FROM at) * 1000)::bigint;
    seq    integer := (nextval('kith_id_seq') & 65535)::integer;
BEGIN
    RETURN (millis << 16)
         | kith_id_permute(seq, (SELECT secret FROM kith_id_secret) || ':' || millis);
END;
$$;

ALTER TABLE statuses ALTER COLUMN id SET DEFAULT kith_status_id();
