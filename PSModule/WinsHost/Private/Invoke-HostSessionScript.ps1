function Invoke-HostSessionScript {
    <#
    .SYNOPSIS
    Runs script text in a host session ('session/invoke'), writing each record as it arrives; returns the result.

    .DESCRIPTION
    The one path of Invoke-HostCommand and Enter-HostSession. Arguments, pipeline input and $using: values
    arrive as CliXml already (PSSerializer); the script text is the only code sent, so values are never
    spliced into it.

    Every session/output notification of this invocation is written while the request runs, so output
    streams as the session produces it: output objects by the compiled WinsHost.SessionOutputSink, records of
    the other streams through Write-HostSessionRecord. The response then decides what else is written:
    state Failed writes the terminating error the session reported (as Invoke-Command writes a remote throw),
    a timeout WinsHost.InvocationTimedOut (OperationTimeout), a stop nobody here asked for
    WinsHost.InvocationStopped (OperationStopped).

    The connection is kept when the wait is abandoned: Ctrl+C, a downstream 'Select-Object -First N', an error
    turned terminating by -ErrorAction Stop. The finally block then sends '$/cancelRequest' and reads the end
    of the invocation (Stop-HostRpcRequest), so the session is stopped, not lost, and answers the next command.

    -WatchControlC (Enter-HostSession, with Ctrl+C read as input) watches the keyboard while waiting: the first
    Ctrl+C sends '$/cancelRequest' and keeps receiving until the session reports the stop; a second one
    abandons the wait and drops the connection. Returns the response, or $null when it was cancelled that way.
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string] $Script,

        # Run in this session; empty: a temporary session on -Target.
        [AllowNull()]
        [AllowEmptyString()]
        [string] $SessionId,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Target,

        # CliXml of an array.
        [AllowNull()]
        [AllowEmptyString()]
        [string] $ArgumentsCliXml,

        # CliXml of an array.
        [AllowNull()]
        [AllowEmptyString()]
        [string] $InputCliXml,

        # CliXml of a hashtable: the values of the script's $using: references by variable name.
        [AllowNull()]
        [AllowEmptyString()]
        [string] $UsingCliXml,

        # 0: the profile's default.
        [int] $Depth = 0,

        # 0: the profile's limit.
        [int] $TimeoutSeconds = 0,

        [System.Management.Automation.SteppablePipeline] $OutputPipeline,

        [switch] $WatchControlC,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe
    )

    $params = [ordered]@{}
    if ($SessionId) {
        $params['sessionId'] = $SessionId
    }
    elseif ($Target) {
        $params['target'] = $Target
    }
    $params['script'] = $Script
    if ($null -ne $ArgumentsCliXml -and $ArgumentsCliXml.Length -gt 0) {
        $params['arguments'] = $ArgumentsCliXml
    }
    if ($null -ne $InputCliXml -and $InputCliXml.Length -gt 0) {
        $params['input'] = $InputCliXml
    }
    if ($null -ne $UsingCliXml -and $UsingCliXml.Length -gt 0) {
        $params['using'] = $UsingCliXml
    }
    if ($Depth -gt 0) {
        $params['depth'] = $Depth
    }
    if ($TimeoutSeconds -gt 0) {
        $params['timeoutSeconds'] = $TimeoutSeconds
    }

    # Shared with the Ctrl+C watcher below, which runs inside the client while it waits.
    $state = @{ CancelSent = $false; Abandoned = $false }
    $request = @{}
    # Output objects are written by the sink itself; the other streams' records by Write-HostSessionRecord,
    # which it calls with (cmdlet, stream, clixml, output pipeline), the order of that function's parameters.
    $sink = [WinsHost.SessionOutputSink]::new($Cmdlet, $SessionId, $OutputPipeline, ${function:Write-HostSessionRecord})

    $onWait = $null
    if ($WatchControlC) {
        # The closure below runs in a scope of its own, where the module's private functions are not visible.
        $writeMessage = Get-Command -Name 'Write-HostRpcMessage' -CommandType Function
        $onWait = {
            while ([System.Console]::KeyAvailable) {
                $key = [System.Console]::ReadKey($true)
                $isControlC = ($key.Key -eq [System.ConsoleKey]::C -and ($key.Modifiers -band [System.ConsoleModifiers]::Control)) -or $key.KeyChar -eq [char]3
                if (-not $isControlC -or -not $request.Contains('Connection')) {
                    continue
                }
                if ($state.CancelSent) {
                    $state.Abandoned = $true
                    throw (New-Object System.OperationCanceledException 'The command was abandoned: the session did not report the stop after Ctrl+C.')
                }
                $state.CancelSent = $true
                $Cmdlet.Host.UI.WriteLine('^C')
                & $writeMessage -Connection $request['Connection'] -Message ([ordered]@{ jsonrpc = '2.0'; method = '$/cancelRequest'; params = @{ id = [long]$request['Id'] } })
            }
        }.GetNewClosure()
    }

    $result = $null
    $answered = $false
    try {
        try {
            $result = Invoke-HostRpc -Method 'session/invoke' -Params $params -NotificationSink $sink -OnWait $onWait -KeepOpen -Request $request -Pipe $Pipe
        }
        catch {
            $failure = Get-HostBrokerInnerException -Exception $_.Exception
            $cancelledHere = $state.CancelSent -and $failure.Data.Contains('WinsHost.ErrorId') -and [string]$failure.Data['WinsHost.ErrorId'] -eq 'RequestCancelled'
            if (-not $cancelledHere) {
                throw
            }
        }
        $answered = $true
    }
    finally {
        if (-not $answered -and -not ($request.Contains('Answered') -and $request['Answered'])) {
            if ($state.Abandoned -and $request.Contains('Connection')) {
                Close-HostRpcConnection -Connection $request['Connection']
            }
            else {
                $null = Stop-HostRpcRequest -Request $request
            }
        }
    }
    if ($null -eq $result) {
        return
    }

    $sink = {
        param([System.Management.Automation.ErrorRecord] $Record)
        if ($OutputPipeline) {
            $OutputPipeline.Process($Record)
        }
        else {
            $Cmdlet.WriteError($Record)
        }
    }
    # Read directly, not through Get-HostBrokerMember: this runs once per command at the prompt and in loops.
    $resultProperties = $result.PSObject.Properties
    $invocationState = ''
    if ($null -ne $resultProperties['state']) {
        $invocationState = [string]$resultProperties['state'].Value
    }
    $timedOut = $null -ne $resultProperties['timedOut'] -and $resultProperties['timedOut'].Value -eq $true
    if ($invocationState -eq 'Failed') {
        $errorCliXml = $null
        if ($null -ne $resultProperties['error']) {
            $errorCliXml = $resultProperties['error'].Value
        }
        if ($errorCliXml) {
            & $sink (ConvertFrom-HostSessionErrorRecord -CliXml ([string]$errorCliXml))
        }
        else {
            & $sink (New-HostBrokerErrorRecord -ErrorId 'InvocationFailed' -Category NotSpecified -Message 'The command failed in the host session without an error record.')
        }
    }
    if ($timedOut) {
        $limit = 'its time limit'
        if ($TimeoutSeconds -gt 0) {
            $limit = '{0} seconds' -f $TimeoutSeconds
        }
        & $sink (New-HostBrokerErrorRecord -ErrorId 'InvocationTimedOut' -Category OperationTimeout -ExceptionType Timeout -TargetObject $SessionId `
                -Message "The command in the host session was stopped after $limit." `
                -RecommendedAction 'Give -TimeoutSeconds more time, up to the invocationTimeoutSeconds of your profile, or make the command faster.')
    }
    elseif ($invocationState -eq 'Stopped' -and -not $state.CancelSent) {
        & $sink (New-HostBrokerErrorRecord -ErrorId 'InvocationStopped' -Category OperationStopped -TargetObject $SessionId `
                -Message 'The command in the host session was stopped before it completed.')
    }
    , $result
}
