-- Mail store, version 2 (being written in session 1).
SELECT 1;
