"""The pgmq worker: runs what SQL cannot do (email now), from jobs_urgent, jobs_normal and
jobs_low, and moves what fails for good to jobs_dead. It shares only the database contract
with the edge."""
