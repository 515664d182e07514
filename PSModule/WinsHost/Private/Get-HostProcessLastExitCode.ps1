function Get-HostProcessLastExitCode {
    <#
    .SYNOPSIS
    The value Start-HostProcess -Wait stores in $LASTEXITCODE for an exited host process.

    .DESCRIPTION
    - The exit code when there is one.
    - For a process ended by a signal (Linux hosts): 128 + the signal's number, as POSIX shells report it
      (SIGINT 130, SIGKILL 137, SIGTERM 143). The numbers are Linux's; a name not in the table (or a bare
      number such as '9' or 'SIG9') is used by its number when it has one.
    - -1 when neither is known (a process adopted after a broker restart, whose exit code nobody saw).
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Process
    )

    $exitCode = Get-HostBrokerMember -InputObject $Process -Path 'ExitCode'
    if ($null -ne $exitCode) {
        $code = ConvertTo-HostProcessExitCode -Value $exitCode
        if ($null -ne $code) {
            return $code
        }
    }

    $signal = Get-HostBrokerMember -InputObject $Process -Path 'Signal'
    if ($null -ne $signal -and [string]$signal) {
        $name = ([string]$signal).Trim().ToUpperInvariant()
        if (-not $name.StartsWith('SIG', [System.StringComparison]::Ordinal)) {
            $name = 'SIG' + $name
        }
        $numbers = @{
            SIGHUP = 1; SIGINT = 2; SIGQUIT = 3; SIGILL = 4; SIGTRAP = 5; SIGABRT = 6; SIGIOT = 6; SIGBUS = 7
            SIGFPE = 8; SIGKILL = 9; SIGUSR1 = 10; SIGSEGV = 11; SIGUSR2 = 12; SIGPIPE = 13; SIGALRM = 14
            SIGTERM = 15; SIGSTKFLT = 16; SIGCHLD = 17; SIGCONT = 18; SIGSTOP = 19; SIGTSTP = 20; SIGTTIN = 21
            SIGTTOU = 22; SIGURG = 23; SIGXCPU = 24; SIGXFSZ = 25; SIGVTALRM = 26; SIGPROF = 27; SIGWINCH = 28
            SIGIO = 29; SIGPOLL = 29; SIGPWR = 30; SIGSYS = 31
        }
        if ($numbers.ContainsKey($name)) {
            return 128 + $numbers[$name]
        }
        $number = 0
        if ([int]::TryParse($name.Substring(3), [ref]$number) -and $number -gt 0 -and $number -lt 128) {
            return 128 + $number
        }
    }
    -1
}
