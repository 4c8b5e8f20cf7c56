-- A setting's current value (to put it back after a `SET LOCAL` of our own).
SELECT current_setting(:name)
