"""Local runtime for the ETL application: runs the SAM template's state machine on one machine.

Never deployed; it stands in for AWS Step Functions, Lambda, Glue, SQS and SNS.
"""
