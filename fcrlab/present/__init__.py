"""What people look at: charts (`charts`), the workshop's widgets (`widgets`), the report's front
page (`headline`) and the weekly report itself (`report`). Nothing here computes a rule.
"""
