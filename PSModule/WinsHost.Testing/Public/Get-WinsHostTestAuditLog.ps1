function Get-WinsHostTestAuditLog {
    <#
    .SYNOPSIS
    Gets the audit log of a test broker as objects, for asserting on what the broker allowed and denied.

    .DESCRIPTION
    Reads the broker's audit log, one JSON line per request (and per refused connection), and returns each as a
    WinsHost.TestAuditEntry: time, listener, profile, peer (pid, uid, gid, netns), method, paramsDigest,
    decision (allow, deny, error), rule, durationMs, resultCode and reason.

    The broker sends a response before it writes that request's audit line (in the same moment, but after), so
    a line may not be there yet right after a cmdlet returned. With -Method or -Decision the log is read again
    until a line matches or -TimeoutSec has passed.

    .PARAMETER TestBroker
    The broker whose log to read; default the newest running one this session started.

    .PARAMETER Method
    Only lines of this method, e.g. 'process/start' (wildcards allowed).

    .PARAMETER Decision
    Only lines with this decision: allow, deny or error.

    .PARAMETER TimeoutSec
    With -Method or -Decision: how long to wait for a matching line; default 5.

    .EXAMPLE
    Get-WinsHostTestAuditLog -Method 'process/start' -Decision deny | Select-Object -ExpandProperty rule

    The policy rule named by each denied process start.

    .INPUTS
    WinsHost.TestBroker. A broker can be piped in.

    .OUTPUTS
    WinsHost.TestAuditEntry.

    .LINK
    Start-WinsHostTestBroker
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.TestAuditEntry')]
    param(
        [Parameter(Position = 0, ValueFromPipeline)]
        [psobject] $TestBroker,

        [ValidateNotNullOrEmpty()]
        [string] $Method,

        [ValidateSet('allow', 'deny', 'error')]
        [string] $Decision,

        [ValidateRange(0, 600)]
        [int] $TimeoutSec = 5
    )

    process {
        if (-not $TestBroker) {
            $running = @($script:WinsHostTestBrokers.ToArray())
            if ($running.Count -eq 0) {
                $PSCmdlet.ThrowTerminatingError((New-WinsHostTestErrorRecord -ErrorId 'NoTestBroker' -Category ObjectNotFound `
                            -Message 'No test broker is running; start one with Start-WinsHostTestBroker or pass -TestBroker.' -TargetObject $null))
            }
            $TestBroker = $running[$running.Count - 1]
        }
        if ($TestBroker.PSObject.TypeNames -notcontains 'WinsHost.TestBroker') {
            $PSCmdlet.ThrowTerminatingError((New-WinsHostTestErrorRecord -ErrorId 'InvalidTestBroker' -Category InvalidArgument -ExceptionType Argument `
                        -Message '-TestBroker takes the objects Start-WinsHostTestBroker returns.' -TargetObject $TestBroker))
        }

        $filtered = $PSBoundParameters.ContainsKey('Method') -or $PSBoundParameters.ContainsKey('Decision')
        $deadline = (Get-Date).AddSeconds($TimeoutSec)
        while ($true) {
            $entries = New-Object System.Collections.Generic.List[object]
            if (Test-Path -LiteralPath $TestBroker.AuditPath) {
                # Shared read: the broker appends to the file while it is read.
                $stream = New-Object System.IO.FileStream -ArgumentList $TestBroker.AuditPath, 'Open', 'Read', 'ReadWrite, Delete'
                $reader = New-Object System.IO.StreamReader -ArgumentList $stream
                try {
                    while ($null -ne ($line = $reader.ReadLine())) {
                        # A line still being written has no end yet; it is read on the next pass.
                        if ($line.Trim().Length -eq 0 -or -not $line.TrimEnd().EndsWith('}')) {
                            continue
                        }
                        $entry = ConvertFrom-Json -InputObject $line
                        if ($PSBoundParameters.ContainsKey('Method') -and $entry.method -notlike $Method) {
                            continue
                        }
                        if ($PSBoundParameters.ContainsKey('Decision') -and $entry.decision -ne $Decision) {
                            continue
                        }
                        $entry.PSObject.TypeNames.Insert(0, 'WinsHost.TestAuditEntry')
                        $entries.Add($entry)
                    }
                }
                finally {
                    $reader.Dispose()
                }
            }
            if (-not $filtered -or $entries.Count -gt 0 -or (Get-Date) -gt $deadline) {
                break
            }
            Start-Sleep -Milliseconds 50
        }
        foreach ($entry in $entries) {
            $entry
        }
    }
}
