function Write-HostSessionOutcome {
    <#
    .SYNOPSIS
    Writes the error a session invocation that did not complete ended with, as Invoke-Command would.

    .DESCRIPTION
    Called after a WinsHost.SessionInvocation whose State is not Completed. State Failed writes the terminating
    error the session reported (as Invoke-Command writes a remote throw), a timeout WinsHost.InvocationTimedOut
    (OperationTimeout), a stop nobody here asked for WinsHost.InvocationStopped (OperationStopped). With
    -OutputPipeline (Enter-HostSession's Out-Default) the record is rendered through it instead of written.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [Parameter(Mandatory)]
        [WinsHost.SessionInvocation] $Invocation,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $SessionId,

        # The caller's -TimeoutSeconds, named in the timeout message; 0: the profile's limit.
        [int] $TimeoutSeconds = 0,

        [System.Management.Automation.SteppablePipeline] $OutputPipeline
    )

    $record = $null
    if ($Invocation.State -eq 'Failed') {
        if ($Invocation.ErrorCliXml) {
            $record = ConvertFrom-HostSessionErrorRecord -CliXml $Invocation.ErrorCliXml
        }
        else {
            $record = New-HostBrokerErrorRecord -ErrorId 'InvocationFailed' -Category NotSpecified -Message 'The command failed in the host session without an error record.'
        }
    }
    elseif ($Invocation.TimedOut) {
        $limit = 'its time limit'
        if ($TimeoutSeconds -gt 0) {
            $limit = '{0} seconds' -f $TimeoutSeconds
        }
        $record = New-HostBrokerErrorRecord -ErrorId 'InvocationTimedOut' -Category OperationTimeout -ExceptionType Timeout -TargetObject $SessionId `
            -Message "The command in the host session was stopped after $limit." `
            -RecommendedAction 'Give -TimeoutSeconds more time, up to the invocationTimeoutSeconds of your profile, or make the command faster.'
    }
    elseif ($Invocation.State -eq 'Stopped' -and -not $Invocation.CancelSent) {
        $record = New-HostBrokerErrorRecord -ErrorId 'InvocationStopped' -Category OperationStopped -TargetObject $SessionId `
            -Message 'The command in the host session was stopped before it completed.'
    }
    if ($null -eq $record) {
        return
    }
    if ($OutputPipeline) {
        $OutputPipeline.Process($record)
    }
    else {
        $Cmdlet.WriteError($record)
    }
}
