# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_nfs_manage_global_optspecs
    string join \n config= fleet= node= dry-run y/yes json q/quiet v/verbose no-color detailed-exitcode wait-lock= h/help V/version
end

function __fish_nfs_manage_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_nfs_manage_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_nfs_manage_using_subcommand
    set -l cmd (__fish_nfs_manage_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "status" -d 'Show DRBD, mounts, exports, NFS and the service IP, and the node\'s overall role'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "up" -d 'Bring the service up on this node: DRBD Primary, mount, NFS, exports, services, IP'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "down" -d 'Take the service down on this node, in the exact reverse order of `up`'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "failover" -d 'Move the service to the other node: preflight, lock, down there, proof, up here'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "volume" -d 'DRBD volumes: bring one up from blank disks'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "config" -d 'Work with the configuration file'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "enable-project" -d 'Give a project an NFS export: GID, project file, directory, exports'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "disable-project" -d 'Withdraw a project\'s exports; its data stays where it is'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "exports" -d 'Render and apply project and public exports'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "project" -d 'Projects across the fleet: move one to another cluster'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "check" -d 'Nagios/Icinga plugin: one line `NFS-MANAGE OK|WARNING|CRITICAL|UNKNOWN - …`, exit 0-3'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "metrics" -d 'Prometheus metrics (text format) on stdout, or atomically into a textfile directory'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "sync" -d 'rsync each `sync:` entry to (or from) its peer, from the node holding the service IP'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "backup" -d 'Block-device backups: pull a source LV into a local LV, mount snapshots of it'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "lock" -d 'The cluster lock in etcd: who holds it, and the audited manual override'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "fleet" -d 'The fleet layout (fleet.yaml): every cluster in one file'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "where" -d 'Where a project, volume, path or client address lives, and the commands to run for it'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "client-config" -d 'The mount lines clients need for projects\' exports (fstab, autofs or systemd)'
complete -c nfs-manage -n "__fish_nfs_manage_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l holders -d 'Also show what holds each mounted volume (fuser): pid, command and user'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand status" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand up" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l kill-after -d 'With --force-unmount: how long the holders have to exit after TERM before KILL' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l force-unmount -d 'Stop the processes that hold a mount instead of refusing: TERM, then KILL after --kill-after'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l keep-dual-primary -d 'Leave dual-primary volumes Primary and mounted (only NFS and the IP go; used by failover)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand down" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l to -d 'The node that takes over (default: the node that is not active)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l allow-resync -d 'Go ahead while DRBD resyncs (the target must still be UpToDate)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l peer-dead -d 'The active node is hard-down: take over from here without it, only with evidence (unreachable over ssh, DRBD not connected, no ARP answer for the service IP) and after `failover.fence_command` succeeded (without one, --peer-fenced is required); promotes with --force'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l peer-fenced -d 'With --peer-dead: you have powered the peer off yourself (BMC, PDU, hypervisor) and checked it is off; no fence_command is run, and the journal records your word'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand failover" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -f -a "init" -d 'Bring up a volume\'s DRBD from blank disks: create-md, up, then --first, --skip-initial-sync or --join; optionally a filesystem (--mkfs)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and not __fish_seen_subcommand_from init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l wait-limit -d 'With --wait: give up waiting after this long (default: no limit)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l connect-timeout -d 'How long to wait for the peer to connect (--skip-initial-sync, --join)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l mkfs -d 'Make a filesystem of this type on the DRBD device (with --first; it must match the volume\'s `fstype:`, and the device must hold no filesystem)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l first -d 'This node is the first leg, alone: its disk becomes the data (`primary --force`), usable at once'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l skip-initial-sync -d 'Both nodes are blank: declare them in sync without copying (run it on both nodes; the first host of the DRBD config runs `new-current-uuid --clear-bitmap`)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l join -d 'Join a Primary that has the data: a full sync to this node as SyncTarget'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l wait -d 'With --join: wait until this node is UpToDate, showing progress (Ctrl-C stops waiting; DRBD goes on syncing)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l force -d 'Overwrite a backing disk that holds a filesystem or DRBD meta-data'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from help" -f -a "init" -d 'Bring up a volume\'s DRBD from blank disks: create-md, up, then --first, --skip-initial-sync or --join; optionally a filesystem (--mkfs)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand volume; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Validate the configuration (keys, types, names, paths, DRBD resources)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the configuration (keys, types, names, paths, DRBD resources)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l gid -d 'The project\'s GID (default: from `getent group project-NAME`)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l volume -d 'Volume that holds the project directory (default: the only volume)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l path -d 'Directory under the volume\'s mountpoint (default: shared/NAME)' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l clients -d 'Static clients: addresses or CIDRs, comma-separated or repeated' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l clients-command -d 'Command whose stdout is a JSON list of the project\'s client addresses (one string, split like a shell would, run without a shell)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand enable-project" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand disable-project" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -f -a "sync" -d 'Render one exports file per project plus the public ones, and apply what changed'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -f -a "import" -d 'Write project files from an existing nfs-mounts.yaml'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and not __fish_seen_subcommand_from sync import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l interval -d 'Run again every SECONDS (as a service), taking the host lock for each run' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l force -d 'Apply even when more than exports.max_shrink_percent of the client entries would go'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from sync" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l volume -d 'Volume that holds the imported projects\' directories (default: the only volume)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l path -d 'Directory of each project under the volume; {name} is the project name' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l clients -d 'Static clients for every imported project (comma-separated or repeated)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l clients-command -d 'Clients command for every imported project; {name} is the project name' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from help" -f -a "sync" -d 'Render one exports file per project plus the public ones, and apply what changed'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from help" -f -a "import" -d 'Write project files from an existing nfs-mounts.yaml'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand exports; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -f -a "move" -d 'Move a project to another cluster of the fleet: rsync passes while it stays writable, a short read-only pause for the final pass and the comparisons, then its exports switched to the target; the data here is kept'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and not __fish_seen_subcommand_from move help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l to -d 'The target: a cluster of the fleet layout, and its volume when it has more than one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l passes -d 'rsync passes before the pause, at least (2 or more)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l max-passes -d 'More passes while the last one changed more than --settle-files/--settle-bytes, up to this many in all; still more than that refuses the pause' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l settle-files -d 'The pause starts only when the last pass changed at most this many entries' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l settle-bytes -d '…and moved at most this many bytes (e.g. 1G; binary units)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l cleanup -d 'Remove the data a move left here, once exports.keep_moved has passed since the move'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from move" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from help" -f -a "move" -d 'Move a project to another cluster of the fleet: rsync passes while it stays writable, a short read-only pause for the final pass and the comparisons, then its exports switched to the target; the data here is kept'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand project; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l expect -d 'The role this node should have; any other role is CRITICAL' -r -f -a "active\t''
standby\t''"
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l textfile -d 'Write DIR/nfs_manage.prom atomically (for node_exporter\'s textfile collector) instead of printing to stdout' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand metrics" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l interval -d 'Keep running: start again SECONDS after the previous run finished (at least 1)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand sync" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -f -a "run" -d 'Pull the source LV into the local target LV (bdsync or rsync over ssh), as a plan: pre-sync snapshot, remote snapshot, sync, check, remote snapshot removed'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -f -a "mount" -d 'Mount a read-only snapshot of a backup to restore files from it; the backup job keeps running meanwhile, because its target LV itself is not mounted'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -f -a "umount" -d 'Unmount a backup mount and remove its snapshot (`--expired`: every mount past its TTL)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -f -a "list" -d 'Each backup: last run, result, duration, bytes, snapshot fill, open mounts'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and not __fish_seen_subcommand_from run mount umount list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from run" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l ttl -d 'How long the mount may stay before `backup umount --expired` removes it (default: backups[].ttl, 4h)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from mount" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l expired -d 'Unmount every backup mount past its TTL (for a timer)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from umount" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "run" -d 'Pull the source LV into the local target LV (bdsync or rsync over ssh), as a plan: pre-sync snapshot, remote snapshot, sync, check, remote snapshot removed'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "mount" -d 'Mount a read-only snapshot of a backup to restore files from it; the backup job keeps running meanwhile, because its target LV itself is not mounted'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "umount" -d 'Unmount a backup mount and remove its snapshot (`--expired`: every mount past its TTL)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "list" -d 'Each backup: last run, result, duration, bytes, snapshot fill, open mounts'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -f -a "show" -d 'Show who holds the cluster lock, since when, and its revision'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -f -a "break" -d 'Delete the cluster lock whoever holds it (audited: journaled with operator and reason)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and not __fish_seen_subcommand_from show break help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l reason -d 'Why the lock is broken (recorded in the journal)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from break" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show who holds the cluster lock, since when, and its revision'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from help" -f -a "break" -d 'Delete the cluster lock whoever holds it (audited: journaled with operator and reason)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand lock; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -f -a "render" -d 'Write (or --check) the cluster.yaml each node derives from the layout'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -f -a "status" -d 'Every cluster at once: each node\'s role, volumes and their usage against the target, replication, problems, and each backup\'s age and state (never, stale, failed: a problem); asked in parallel, a host that does not answer shown as unknown (and exit 5)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -f -a "place" -d 'Propose the volume with the most headroom under its target for a new project'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and not __fish_seen_subcommand_from render status place help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l out -d 'Write DIR/NODE/cluster.yaml for every node of every cluster, instead of this host\'s own config (--config)' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l check -d 'Change nothing: say which configs differ from the layout; exit 1 if any does'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l force -d 'Replace a config that was not rendered from a layout (a hand-written one)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from render" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l host-timeout -d 'How long each host may take to answer before it is shown as unknown' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l size -d 'The space it needs, e.g. 500G or 2T (binary units)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l host-timeout -d 'How long each host may take to answer before it is shown as unknown' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from place" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "render" -d 'Write (or --check) the cluster.yaml each node derives from the layout'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "status" -d 'Every cluster at once: each node\'s role, volumes and their usage against the target, replication, problems, and each backup\'s age and state (never, stale, failed: a problem); asked in parallel, a host that does not answer shown as unknown (and exit 5)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "place" -d 'Propose the volume with the most headroom under its target for a new project'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l offline -d 'Do not ask etcd or the nodes which node serves now'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -s h -l help -d 'Print help'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand where" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l format -r -f -a "fstab\t'/etc/fstab lines'
autofs\t'autofs map entries (auto.master: MOUNT_ROOT /etc/auto.nfs-manage)'
systemd\t'systemd .mount units'"
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l config -d 'Cluster configuration file' -r -F
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l fleet -d 'The fleet layout (fleet, where, client-config): a file, or etcd://HOST:PORT[,HOST:PORT…]/KEY (one etcd key holding the same YAML). Without a layout file at the default place, the cluster config (--config) is a fleet of one' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l node -d 'Which node of the config this host is (default: the short hostname)' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l wait-lock -d 'Wait this long (e.g. 30s) for another run\'s host lock instead of exiting 4 at once' -r
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l all -d 'Every project of the fleet'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l dry-run -d 'Print the plan and stop; change nothing and send nothing on the network'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -s y -l yes -d 'Run a state-changing plan without asking (required off a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l json -d 'Machine-readable output (an object with "format_version": 1)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -s q -l quiet -d 'Print nothing on success (for cron); errors still go to stderr'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -s v -l verbose -d 'Show every command spawned, with its exit code and time'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l no-color -d 'No colours (also: NO_COLOR set, or output not a terminal)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -l detailed-exitcode -d 'Exit codes for scripts that plan: 0 nothing to do, 2 the plan had steps to run (pending in a dry run, done in a run), 1 any error'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand client-config" -s V -l version -d 'Print version'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "status" -d 'Show DRBD, mounts, exports, NFS and the service IP, and the node\'s overall role'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "up" -d 'Bring the service up on this node: DRBD Primary, mount, NFS, exports, services, IP'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "down" -d 'Take the service down on this node, in the exact reverse order of `up`'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "failover" -d 'Move the service to the other node: preflight, lock, down there, proof, up here'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "volume" -d 'DRBD volumes: bring one up from blank disks'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "config" -d 'Work with the configuration file'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "enable-project" -d 'Give a project an NFS export: GID, project file, directory, exports'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "disable-project" -d 'Withdraw a project\'s exports; its data stays where it is'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "exports" -d 'Render and apply project and public exports'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "project" -d 'Projects across the fleet: move one to another cluster'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "check" -d 'Nagios/Icinga plugin: one line `NFS-MANAGE OK|WARNING|CRITICAL|UNKNOWN - …`, exit 0-3'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "metrics" -d 'Prometheus metrics (text format) on stdout, or atomically into a textfile directory'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "sync" -d 'rsync each `sync:` entry to (or from) its peer, from the node holding the service IP'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "backup" -d 'Block-device backups: pull a source LV into a local LV, mount snapshots of it'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "lock" -d 'The cluster lock in etcd: who holds it, and the audited manual override'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "fleet" -d 'The fleet layout (fleet.yaml): every cluster in one file'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "where" -d 'Where a project, volume, path or client address lives, and the commands to run for it'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "client-config" -d 'The mount lines clients need for projects\' exports (fstab, autofs or systemd)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and not __fish_seen_subcommand_from status up down failover volume config enable-project disable-project exports project check metrics sync backup lock fleet where client-config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from volume" -f -a "init" -d 'Bring up a volume\'s DRBD from blank disks: create-md, up, then --first, --skip-initial-sync or --join; optionally a filesystem (--mkfs)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate the configuration (keys, types, names, paths, DRBD resources)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from exports" -f -a "sync" -d 'Render one exports file per project plus the public ones, and apply what changed'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from exports" -f -a "import" -d 'Write project files from an existing nfs-mounts.yaml'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from project" -f -a "move" -d 'Move a project to another cluster of the fleet: rsync passes while it stays writable, a short read-only pause for the final pass and the comparisons, then its exports switched to the target; the data here is kept'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "run" -d 'Pull the source LV into the local target LV (bdsync or rsync over ssh), as a plan: pre-sync snapshot, remote snapshot, sync, check, remote snapshot removed'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "mount" -d 'Mount a read-only snapshot of a backup to restore files from it; the backup job keeps running meanwhile, because its target LV itself is not mounted'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "umount" -d 'Unmount a backup mount and remove its snapshot (`--expired`: every mount past its TTL)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "list" -d 'Each backup: last run, result, duration, bytes, snapshot fill, open mounts'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from lock" -f -a "show" -d 'Show who holds the cluster lock, since when, and its revision'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from lock" -f -a "break" -d 'Delete the cluster lock whoever holds it (audited: journaled with operator and reason)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from fleet" -f -a "render" -d 'Write (or --check) the cluster.yaml each node derives from the layout'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from fleet" -f -a "status" -d 'Every cluster at once: each node\'s role, volumes and their usage against the target, replication, problems, and each backup\'s age and state (never, stale, failed: a problem); asked in parallel, a host that does not answer shown as unknown (and exit 5)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand help; and __fish_seen_subcommand_from fleet" -f -a "place" -d 'Propose the volume with the most headroom under its target for a new project'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -f -a "drbd" -d 'DRBD: local disk, peer connection and disk, resync, two Primaries'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -f -a "role" -d 'The node\'s overall role (with --expect: that it is the expected one)'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -f -a "service-ip" -d 'The service IP: on this node exactly when it should be'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -f -a "nfs" -d 'The NFS server and extra services, and the volumes they serve mounted'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -f -a "exports" -d 'Exports only of mounted volumes'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -f -a "backups" -d 'Backups: last run failed or too old, snapshot fill, backup mounts past their TTL'
complete -c nfs-manage -n "__fish_nfs_manage_using_subcommand check" -f -a "all" -d 'Everything above (backups only when configured)'
