function Stop-WinsHostTestBroker {
    <#
    .SYNOPSIS
    Stops a test broker started by Start-WinsHostTestBroker and removes its temporary directory.

    .DESCRIPTION
    Closes the WinsHost module's connection if it is to this broker's pipe (Disconnect-HostBroker -Pipe), stops
    the broker (SIGTERM on Linux, so it flushes its audit log and removes its socket; Stop-Process on Windows)
    and waits for it to exit, puts $env:WINSHOST_PIPE back to what it was before the broker started (unless
    something else changed it since), and removes the broker's temporary directory: socket, state, audit log.

    Without -TestBroker every test broker this session started and has not stopped is stopped, newest first.
    Stopping a broker twice does nothing.

    .PARAMETER TestBroker
    The broker to stop, as Start-WinsHostTestBroker returned it.

    .EXAMPLE
    $broker = Start-WinsHostTestBroker -Policy ./policy.yaml
    Stop-WinsHostTestBroker -TestBroker $broker

    Starts and stops one broker.

    .EXAMPLE
    AfterAll { Stop-WinsHostTestBroker }

    In a Pester suite: stops whatever brokers the suite started.

    .INPUTS
    WinsHost.TestBroker. Brokers can be piped in.

    .OUTPUTS
    None.

    .LINK
    Start-WinsHostTestBroker
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Position = 0, ValueFromPipeline)]
        [ValidateNotNull()]
        [psobject[]] $TestBroker
    )

    process {
        if ($PSBoundParameters.ContainsKey('TestBroker')) {
            $brokers = $TestBroker
        }
        else {
            $brokers = @($script:WinsHostTestBrokers.ToArray())
            [array]::Reverse($brokers)
        }
        foreach ($broker in $brokers) {
            if ($broker.PSObject.TypeNames -notcontains 'WinsHost.TestBroker') {
                $PSCmdlet.WriteError((New-WinsHostTestErrorRecord -ErrorId 'InvalidTestBroker' -Category InvalidArgument -ExceptionType Argument `
                            -Message '-TestBroker takes the objects Start-WinsHostTestBroker returns.' -TargetObject $broker))
                continue
            }
            if ($broker.Stopped) {
                Write-Verbose ('The test broker on {0} is already stopped.' -f $broker.Pipe)
                continue
            }

            $disconnect = Get-Command -Name Disconnect-HostBroker -CommandType Function -ErrorAction SilentlyContinue
            if ($disconnect) {
                Disconnect-HostBroker -Pipe $broker.Pipe -ErrorAction SilentlyContinue
            }

            $process = $broker.Process
            if (-not $process.HasExited) {
                if (Test-WinsHostTestWindows) {
                    # Node has no SIGTERM on Windows: any stop is a forced one.
                    Stop-Process -Id $process.Id -Force -ErrorAction SilentlyContinue
                }
                else {
                    $kill = @(Get-Command -Name kill -CommandType Application -ErrorAction SilentlyContinue) | Select-Object -First 1
                    if ($kill) {
                        & $kill.Path -s TERM $process.Id
                    }
                    else {
                        $process.Kill()
                    }
                }
                if (-not $process.WaitForExit($script:WinsHostTestStopTimeoutSec * 1000)) {
                    Write-Warning ('The test broker (process {0}) did not stop within {1} s of SIGTERM; killing it.' -f $process.Id, $script:WinsHostTestStopTimeoutSec)
                    $process.Kill()
                    $null = $process.WaitForExit(5000)
                }
            }
            $broker.Stopped = $true
            for ($index = $script:WinsHostTestBrokers.Count - 1; $index -ge 0; $index--) {
                if ([object]::ReferenceEquals($script:WinsHostTestBrokers[$index], $broker)) {
                    $script:WinsHostTestBrokers.RemoveAt($index)
                }
            }

            if ($env:WINSHOST_PIPE -eq $broker.Pipe) {
                if ($null -eq $broker.PreviousPipe) {
                    Remove-Item -Path Env:WINSHOST_PIPE -ErrorAction SilentlyContinue
                }
                else {
                    $env:WINSHOST_PIPE = $broker.PreviousPipe
                }
            }

            # Windows may hold the just-exited process's files for a moment.
            for ($attempt = 1; $attempt -le 10; $attempt++) {
                Remove-Item -LiteralPath $broker.Directory -Recurse -Force -ErrorAction SilentlyContinue
                if (-not (Test-Path -LiteralPath $broker.Directory)) {
                    break
                }
                Start-Sleep -Milliseconds 100
            }
            if (Test-Path -LiteralPath $broker.Directory) {
                $PSCmdlet.WriteError((New-WinsHostTestErrorRecord -ErrorId 'CleanupFailed' -Category ResourceUnavailable `
                            -Message ("The test broker stopped, but its directory '{0}' could not be removed." -f $broker.Directory) -TargetObject $broker.Directory))
            }
        }
    }
}
