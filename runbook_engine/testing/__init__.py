"""`runbook test`: rehearse runbooks unattended, each step a test case, with a JUnit report."""
