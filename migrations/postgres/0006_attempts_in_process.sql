-- Nothing changes here: several nodes share their attempts through PostgreSQL (or Redis), so its
-- attempts table stays. The SQLite migration of this number drops that store's attempts table,
-- which a single node never used (it keeps attempts in process); the number is kept in step.

SELECT 1;
