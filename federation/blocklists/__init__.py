"""Shared block lists as the protocol sees them: fetched (`fetch`), parsed in every format
(`parse`) and compared (`diff`); subscribing and applying them is `server.usecases.blocklists`."""
