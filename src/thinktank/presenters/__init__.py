"""What the API and the pages share: the request dependencies (who is asking, which service) and
the presenters that turn what services return into public models (`schemas`). Neither edge calls
the other's routes; both call these."""
