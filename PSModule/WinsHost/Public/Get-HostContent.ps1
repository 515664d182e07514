function Get-HostContent {
    <#
    .SYNOPSIS
    Gets the content of a file on the container host, line by line as it arrives, like Get-Content.

    .DESCRIPTION
    Asks the WinsHost broker to read a host file (the 'file/read' method). The broker sends the file in chunks
    (file/data notifications) before its response, and each line is written to the pipeline as soon as the
    chunk that completes it arrives: 'Get-HostContent ... | Select-String error' shows the first match before
    a large file has been read, and 'Select-Object -First 5' stops the read.

    Only files under the directories the broker's policy grants to your profile can be read (files.roots);
    a path outside them is refused with WinsHost.PolicyDenied, a path that is not absolute with
    WinsHost.InvalidParams, a missing file with WinsHost.NotFound, and a read larger than the profile's limit
    with WinsHost.LimitExceeded (use -Tail or -TotalCount for the part you need).

    Lines end at LF; a CR before it is removed, so Windows and Unix line endings give the same lines. A
    newline at the end of the file does not add an empty last line. A byte order mark at the start of the
    file is dropped.

    When the response arrives, the number of bytes received and their SHA-256 are compared with what the
    broker reports having sent. If they differ, the read ends with the terminating error
    'WinsHost.ContentMismatch' (category InvalidData); lines written before were already output.

    .PARAMETER Path
    The absolute path of the file on the host, in the host's syntax (C:\logs\app.log, /var/log/app.log).
    Objects with a FullName property, such as the files from Get-HostChildItem, can be piped in.

    .PARAMETER Tail
    Gets only the last N lines of the file. The broker reads them from the end, so this is cheap for large
    files. 0 gets nothing. Cannot be combined with -TotalCount.

    .PARAMETER TotalCount
    Gets only the first N lines of the file. 0 gets nothing. Cannot be combined with -Tail.

    .PARAMETER Raw
    Returns the whole content as one string (with its newlines) once the read is complete, instead of one
    string per line.

    .PARAMETER Encoding
    How the file is decoded: UTF8 (the default; ASCII files read the same), ASCII, or Unicode (UTF-16 LE, as
    many Windows tools write). It also tells the broker how -Tail and -TotalCount count lines.

    .PARAMETER AsByteStream
    Returns the bytes instead of text: one [byte] object per byte, or with -Raw a single byte[].

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-HostContent -Path C:\ProgramData\docker\panic.log -Tail 20

    Shows the last 20 lines of the Docker engine's panic log on the host.

    .EXAMPLE
    Get-HostContent -Path /var/log/syslog | Select-String -Pattern 'oom-kill'

    Searches the host's syslog; matches are shown while the rest of the file is still arriving.

    .EXAMPLE
    Get-HostChildItem -Path C:\logs\web -Recurse | Where-Object { $_.Type -eq 'File' -and $_.Name -like '*.log' } | Get-HostContent -TotalCount 1

    Shows the first line of every log file under a host directory, by piping the files' FullName.

    .EXAMPLE
    $config = Get-HostContent -Path C:\ProgramData\app\settings.json -Raw | ConvertFrom-Json

    Reads a JSON file from the host as one string and parses it.

    .EXAMPLE
    Get-HostContent -Path C:\Windows\Logs\CBS\CBS.log -Encoding Unicode -Tail 5

    Reads the end of a UTF-16 file; -Encoding Unicode also makes the broker count UTF-16 lines for -Tail.

    .INPUTS
    System.String. A path, or the FullName property of piped objects, binds to -Path.

    .OUTPUTS
    System.String, or System.Byte with -AsByteStream (System.Byte[] with -Raw).

    .LINK
    Get-HostChildItem

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    [OutputType([string], [byte], [byte[]])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [Alias('FullName')]
        [ValidateNotNullOrEmpty()]
        [string] $Path,

        [Parameter(Mandatory, ParameterSetName = 'Tail')]
        [Alias('Last')]
        [ValidateRange(0, 2147483647)]
        [int] $Tail,

        [Parameter(Mandatory, ParameterSetName = 'TotalCount')]
        [Alias('First', 'Head')]
        [ValidateRange(0, 2147483647)]
        [int] $TotalCount,

        [switch] $Raw,

        [ValidateSet('UTF8', 'ASCII', 'Unicode')]
        [string] $Encoding = 'UTF8',

        [switch] $AsByteStream,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    begin {
        # Captured by the notification callback, which runs inside the client while it waits for the response.
        $addChunk = Get-Command -Name 'Add-HostContentChunk' -CommandType Function
    }

    process {
        # A new token per read: file/data notifications of any other read on the connection are not ours.
        $token = [System.Guid]::NewGuid().ToString()
        $params = @{
            path         = $Path
            token        = $token
            lineEncoding = 'utf8'
        }
        if ($Encoding -eq 'Unicode') {
            $params['lineEncoding'] = 'utf16le'
        }
        if ($PSCmdlet.ParameterSetName -eq 'Tail') {
            $params['tail'] = $Tail
        }
        elseif ($PSCmdlet.ParameterSetName -eq 'TotalCount') {
            $params['head'] = $TotalCount
        }

        $reader = New-HostContentReader -Cmdlet $PSCmdlet -Token $token -Encoding $Encoding -Raw:$Raw -AsByteStream:$AsByteStream
        # A closure, not a plain script block: the client calls it from its own functions, where $reader and
        # $PSCmdlet would name other variables or none.
        $onNotification = {
            param([string] $NotificationMethod, $NotificationParams)
            if ($NotificationMethod -ceq 'file/data') {
                & $addChunk -Reader $reader -Params $NotificationParams
            }
        }.GetNewClosure()

        try {
            try {
                $result = Invoke-HostRpc -Method 'file/read' -Params $params -OnNotification $onNotification -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }

            $mismatch = Get-HostContentMismatch -Reader $reader -Result $result
            if ($mismatch) {
                $record = New-HostBrokerErrorRecord -ErrorId 'ContentMismatch' -Category InvalidData -ExceptionType InvalidData -TargetObject $Path `
                    -Message ("The content of '{0}' did not arrive intact: {1}." -f $Path, $mismatch) `
                    -RecommendedAction 'Read the file again; if this repeats, the broker or the connection to it is faulty.'
                $PSCmdlet.ThrowTerminatingError($record)
            }
            Complete-HostContentReader -Reader $reader
        }
        finally {
            Close-HostContentReader -Reader $reader
        }
    }
}
