"""Exports of the dashboard's list as spreadsheets (``.xlsx``, ``.csv``).

view.py     what to export: the dashboard's filter and order, and a format, as plain JSON
links.py    short-lived download links, signed for one user and one view
columns.py  the columns, and the rows read in keyset batches in the dashboard's order
writers.py  the CSV and XLSX writers, fed batch by batch, memory flat
service.py  the export as a stream of bytes, within its bounds
"""
