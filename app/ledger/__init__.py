"""The ledger (台账): xlsx/csv import and export, reports."""
