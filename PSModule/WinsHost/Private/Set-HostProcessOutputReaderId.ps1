function Set-HostProcessOutputReaderId {
    <#
    .SYNOPSIS
    Tells an output reader which process it reads, and replays the notifications that came before.

    .DESCRIPTION
    Start-HostProcess -Wait asks the broker to stream from the start, so output may arrive before (or
    together with) the process/start response that names the process. Those notifications were kept; now
    the ones of this process are decoded, the others dropped.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader,

        [Parameter(Mandatory)]
        [int] $ProcessId
    )

    $Reader.ProcessId = $ProcessId
    $early = $Reader.Early.ToArray()
    $Reader.Early.Clear()
    foreach ($notification in $early) {
        Add-HostProcessNotification -Reader $Reader -Method $notification.Method -Params $notification.Params
    }
}
