-- `SET LOCAL name = value`, with both bound: the setting ends with the transaction.
SELECT set_config(:name, :value, true)
